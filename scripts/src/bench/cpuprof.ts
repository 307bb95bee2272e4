/**
 * Preloaded into a service by `npm run bench` with BENCH_CPU_PROF=1
 * (`NODE_OPTIONS=--require …/bench/cpuprof.js`, since Node 20 refuses `--cpu-prof` in
 * NODE_OPTIONS): samples the process with V8's profiler from start-up and writes a
 * `.cpuprofile` (the format `--cpu-prof` writes) to BENCH_CPU_PROF_FILE when the process exits.
 * The in-process inspector session answers synchronously, so this works in an 'exit' handler.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { parseEnv } from '@bridge/shared';
import { profilerConfigSchema } from './config';

const { BENCH_CPU_PROF_FILE: file, BENCH_CPU_PROF_INTERVAL_US: interval } = parseEnv(profilerConfigSchema);
if (file) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval });
  session.post('Profiler.start');
  process.on('exit', () => {
    session.post('Profiler.stop', (err, result) => {
      if (!err && result?.profile) writeFileSync(file, JSON.stringify(result.profile));
    });
  });
}
