'use strict';
// A controllable clock for the sandbox: Date.now, setTimeout and clearTimeout read it. Time moves
// only when a test calls advance(), so no test waits on real time.

function createFakeClock(start = Date.UTC(2026, 10, 22, 12, 0, 0)) {
  let now = start;
  let nextId = 1;
  const timers = new Map(); // id → { at, fn }

  const clock = {
    now: () => now,
    setTimeout(fn, ms) {
      const id = nextId++;
      timers.set(id, { at: now + Math.max(0, Number(ms) || 0), fn });
      return id;
    },
    clearTimeout(id) {
      timers.delete(id);
    },
    pending: () => timers.size,
    // Moves time forward by `ms`, firing due timers in order and letting promise callbacks run
    // between them (one macrotask turn each, on the real event loop).
    async advance(ms) {
      const until = now + ms;
      for (;;) {
        await new Promise((resolve) => setImmediate(resolve));
        let next = null;
        for (const [id, timer] of timers) if (timer.at <= until && (!next || timer.at < next[1].at)) next = [id, timer];
        if (!next) break;
        timers.delete(next[0]);
        now = Math.max(now, next[1].at);
        next[1].fn();
      }
      now = until;
      await new Promise((resolve) => setImmediate(resolve));
    },
    // Jumps the wall clock (a user changing the device time) without firing timers.
    jump(ms) {
      now += ms;
    },
  };
  return clock;
}

module.exports = { createFakeClock };
