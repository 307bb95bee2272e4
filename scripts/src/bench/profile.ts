/** A summary of V8 CPU profiles (`.cpuprofile`, as written by node --cpu-prof or cpuprof.ts): top functions and packages by self time. */
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

export interface ProfileSummary {
  file: string;
  service: string;
  sampledMs: number;
  /** Share of samples where the process was idle (waiting for I/O). */
  idlePct: number;
  topFunctions: Array<{ function: string; where: string; selfMs: number; pctOfBusy: number }>;
  topPackages: Array<{ package: string; selfMs: number; pctOfBusy: number }>;
}

function shortUrl(url: string, root: string): string {
  if (!url) return '';
  const u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) return u.slice(nm + 'node_modules/'.length);
  return u.startsWith(root) ? u.slice(root.length + 1) : u;
}

function packageOf(url: string, functionName: string, root: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native / V8 builtins)';
  const u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = u.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (u.startsWith('node:')) return 'node core';
  if (u.startsWith(root)) return `bridge: ${u.slice(root.length + 1).split('/')[0]}`;
  return u;
}

export function summarizeProfile(file: string, service: string, root: string, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[] };
  const totalHits = profile.nodes.reduce((s, n) => s + (n.hitCount ?? 0), 0) || 1;
  const msPerHit = (profile.endTime - profile.startTime) / 1000 / totalHits;
  const byFunction = new Map<string, { function: string; where: string; hits: number }>();
  const byPackage = new Map<string, number>();
  let idle = 0;
  for (const n of profile.nodes) {
    const hits = n.hitCount ?? 0;
    if (!hits) continue;
    const name = n.callFrame.functionName || '(anonymous)';
    if (name === '(idle)') {
      idle += hits;
      continue;
    }
    const where = shortUrl(n.callFrame.url, root);
    const key = `${name}\u0000${where}`;
    const entry = byFunction.get(key) ?? { function: name, where: where ? `${where}:${n.callFrame.lineNumber + 1}` : '', hits: 0 };
    entry.hits += hits;
    byFunction.set(key, entry);
    const pkg = packageOf(n.callFrame.url, name, root);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + hits);
  }
  const busy = totalHits - idle || 1;
  const pct = (h: number) => Math.round((h / busy) * 1000) / 10;
  return {
    file: path.basename(file),
    service,
    sampledMs: Math.round(totalHits * msPerHit),
    idlePct: Math.round((idle / totalHits) * 1000) / 10,
    topFunctions: [...byFunction.values()]
      .sort((a, b) => b.hits - a.hits)
      .slice(0, top)
      .map((e) => ({ function: e.function, where: e.where, selfMs: Math.round(e.hits * msPerHit), pctOfBusy: pct(e.hits) })),
    topPackages: [...byPackage.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([pkg, hits]) => ({ package: pkg, selfMs: Math.round(hits * msPerHit), pctOfBusy: pct(hits) })),
  };
}
