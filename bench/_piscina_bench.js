// The piscina side of bench_interpreter.py: run by node with the config as argv[2] (JSON),
// prints one JSON line of results. A worker thread task file is written next to it.
'use strict';
const path = require('path');
const P = require('piscina');
const Piscina = P.Piscina || P;

const cfg = JSON.parse(process.argv[2]);
const filename = path.join(__dirname, '_piscina_task.js');

function spinHere(n) {
  let total = 0;
  for (let i = 0; i < n; i++) total += i * i;
  return total;
}

function calibrate(seconds) {
  // n such that one spin(n) takes about `seconds` on this thread.
  let n = 1e6;
  for (;;) {
    const t = process.hrtime.bigint();
    spinHere(n);
    const dt = Number(process.hrtime.bigint() - t) / 1e9;
    if (dt > 0.005) return Math.round((n * seconds) / dt);
    n *= 4;
  }
}

async function timed(fn) {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

async function main() {
  const one = new Piscina({ filename, minThreads: 1, maxThreads: 1 });
  const two = new Piscina({ filename, minThreads: 2, maxThreads: 2 });
  const n = calibrate(cfg.cpu_seconds);
  const burst = (pool, count) =>
    Promise.all(Array.from({ length: count }, (_, i) => pool.run({ op: 'spin', n })));
  const tinies = (pool, count) =>
    Promise.all(Array.from({ length: count }, (_, i) => pool.run({ op: 'tiny', n: i })));
  await burst(one, 2);
  await burst(two, 4);
  await tinies(two, 200);
  const cpu1 = await timed(() => burst(one, cfg.cpu_tasks));
  const cpu2 = await timed(() => burst(two, cfg.cpu_tasks));
  const rtts = [];
  for (let i = 0; i < cfg.rtt_n; i++) {
    const t = process.hrtime.bigint();
    await two.run({ op: 'tiny', n: i });
    rtts.push(Number(process.hrtime.bigint() - t) / 1e9);
  }
  rtts.sort((a, b) => a - b);
  const tput = await timed(() => tinies(two, cfg.tput_n));
  await one.destroy();
  await two.destroy();
  console.log(JSON.stringify({ cpu1, cpu2, rtt_p50: rtts[Math.floor(rtts.length / 2)], tput: cfg.tput_n / tput }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
