#!/usr/bin/env node
// The notebooks' Jupyter kernel: tslab itself, with one fix. tslab sends each Jupyter message
// without waiting for the previous send on the same ZeroMQ socket to finish, but zeromq 6 allows
// one send in flight per socket and rejects another with EBUSY ("Socket is busy writing"). On a
// loaded machine (a training run beside the notebook) a late progress update and the next cell's
// "busy" status then collide, and the unhandled rejection kills the kernel mid-notebook. Here the
// sends on each socket wait for each other, in the order they were made.
const path = require('node:path');

/** Makes `Socket.prototype.send` of this zeromq module queue per socket; returns the original (to restore it). */
function queueSends(zmq) {
  const send = zmq.Socket.prototype.send;
  const tails = new WeakMap();
  function queuedSend(message) {
    const next = (tails.get(this) || Promise.resolve()).then(() => send.call(this, message));
    tails.set(this, next.catch(() => undefined)); // a failed send does not hold up the next one
    return next;
  }
  // The native method is read-only (not writable, but configurable): redefine it.
  Object.defineProperty(zmq.Socket.prototype, 'send', { value: queuedSend, writable: false, enumerable: false, configurable: true });
  return send;
}

module.exports = { queueSends };

if (require.main === module) {
  const tslab = path.dirname(require.resolve('tslab/package.json'));
  queueSends(require(require.resolve('zeromq', { paths: [tslab] })));
  require(path.join(tslab, 'dist', 'main.js')).main();
}
