/** Phase 5, memory: peak RSS (VmHWM) of every service over the run, sampled every second, and of the bench process. */
import type { Cluster } from '../cluster';
import type { Row } from './report';

export type PeakMemory = Record<string, { peakMb: number; restarts: number }>;

export function peakMemory(clusters: Cluster[], rows: Row[]): PeakMemory {
  let memory: PeakMemory = {};
  for (const c of clusters) c.sample();
  for (const c of clusters) memory = { ...memory, ...c.peakRss() };
  for (const [name, m] of Object.entries(memory)) rows.push({ phase: '5 memory', metric: `peak RSS ${name}`, value: m.peakMb, unit: 'MB' });
  rows.push({ phase: '5 memory', metric: 'peak RSS bench process (load generator + simulators)', value: Math.round(process.resourceUsage().maxRSS / 102.4) / 10, unit: 'MB' });
  return memory;
}
