'use strict';
/**
 * webhook-service as production runs it (the built webhook-service/dist, configured from the
 * environment), in a child process of webhook-service/test/heap.test.ts, which sends it traffic
 * over HTTP and asks, over IPC, how much heap it retains. Run with --expose-gc: on 'heap' it
 * collects garbage fully and answers { heapUsed } (bytes); on 'stop' it closes and exits.
 */
const { start } = require('../../dist/server');

start(process.env).then(
  (service) => {
    process.on('message', (message) => {
      if (message === 'heap') {
        // Twice: the first collection may only queue what the second frees (weak references, finalizers).
        global.gc();
        setImmediate(() => {
          global.gc();
          process.send({ heapUsed: process.memoryUsage().heapUsed });
        });
      } else if (message === 'stop') {
        service.close().finally(() => process.exit(0));
      }
    });
    process.send({ port: service.port });
  },
  (err) => {
    process.send({ error: String(err && err.message) });
    process.exit(1);
  },
);
