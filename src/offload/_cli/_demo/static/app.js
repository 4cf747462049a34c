// The live page of `offload demo`: start subset-sum jobs, stream their matches, and
// chart the server's event-loop lag and pool utilization by polling /stats.
"use strict";

const $ = (id) => document.getElementById(id);
const WINDOW_MS = 30000;
const POLL_MS = 250;
const MAX_LISTED = 500; // matches kept in the list; the counter counts all of them
const samples = []; // {t, lag, rtt, util}
let controller = null;

function randomData(n) {
  const data = [];
  for (let i = 0; i < n; i++) data.push(Math.floor(Math.random() * 41) - 20);
  return data;
}

function setStatus(text, isError) {
  const el = $("status");
  el.textContent = text;
  el.className = isError ? "error" : "muted";
}

function fmt(ms) {
  return ms >= 100 ? ms.toFixed(0) : ms.toFixed(1);
}

// ---- jobs ---------------------------------------------------------------------------

async function startJob(event) {
  event.preventDefault();
  if (controller) controller.abort();
  controller = new AbortController();
  const mine = controller;
  const copies = Math.max(1, Math.min(16, Number($("copies").value) || 1));
  $("matches").replaceChildren();
  $("match-count").textContent = "0";
  $("stop").disabled = false;
  const query = new URLSearchParams({ data: $("data").value.trim(), sum: $("sum").value.trim() });
  const counter = { found: 0 };
  setStatus(copies > 1 ? `running ${copies} jobs at once…` : "running…");
  try {
    const runs = [];
    for (let i = 0; i < copies; i++) runs.push(runJob(query, mine.signal, counter));
    const summaries = await Promise.all(runs);
    if (summaries.every((s) => s)) showSummary(summaries);
  } catch (error) {
    if (error.name === "AbortError") setStatus("stopped: the server cancelled the work in its workers");
    else setStatus(`failed: ${error.message || error}`, true);
  } finally {
    if (controller === mine) {
      controller = null;
      $("stop").disabled = true;
    }
  }
}

// One request: stream its matches into the list; resolve to its summary line.
async function runJob(query, signal, counter) {
  const response = await fetch("subset-sum?" + query, { signal });
  if (!response.ok) {
    const problem = await response.json().catch(() => ({ error: response.statusText }));
    throw new Error(`${response.status}: ${problem.error}`);
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  let summary = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffered += decoder.decode(value, { stream: true });
    const lines = buffered.split("\n");
    buffered = lines.pop();
    for (const line of lines) {
      if (!line) continue;
      const message = JSON.parse(line);
      if (message.match) {
        counter.found += 1;
        $("match-count").textContent = String(counter.found);
        if (counter.found <= MAX_LISTED) {
          const item = document.createElement("li");
          item.textContent = JSON.stringify(message.match);
          $("matches").appendChild(item);
        }
      } else if (message.done) {
        summary = message;
      }
    }
  }
  return summary;
}

function showSummary(summaries) {
  const failed = summaries.find((s) => s.error || s.cancelled);
  if (failed) {
    setStatus(`failed after ${failed.elapsed.toFixed(2)} s: ${failed.error || failed.reason}`, true);
    return;
  }
  const first = summaries[0];
  const slowest = Math.max(...summaries.map((s) => s.elapsed));
  const jobs = summaries.length > 1 ? `${summaries.length} jobs, ` : "";
  const each = summaries.length > 1 ? " each" : "";
  const more = first.count > first.streamed ? ` (first ${first.streamed} streamed${each})` : "";
  setStatus(
    `done: ${jobs}${first.count} matches${each}${more} in ${slowest.toFixed(2)} s ` +
      `with the ${first.strategy} strategy`
  );
}

// ---- stats and charts ---------------------------------------------------------------

async function poll() {
  const sent = performance.now();
  try {
    const response = await fetch("stats", { cache: "no-store" });
    const stats = await response.json();
    const rtt = performance.now() - sent;
    $("strategy").textContent = stats.strategy;
    $("workers").textContent = String(stats.pool.capacity);
    $("lag-p50").textContent = fmt(stats.lag.p50_ms);
    $("lag-p99").textContent = fmt(stats.lag.p99_ms);
    $("lag-max").textContent = fmt(stats.lag.max_ms);
    $("rtt").textContent = fmt(rtt);
    if (stats.lag.last_block) {
      $("last-block").textContent =
        `loop blocked over 50 ms: ${stats.lag.blocks} times; last: ${stats.lag.last_block}`;
      $("last-block").className = "blocked";
    }
    $("busy").textContent = `${stats.pool.busy} / ${stats.pool.capacity}`;
    $("queued").textContent = String(stats.pool.queued);
    $("running").textContent = String(stats.jobs.running);
    $("done").textContent = `${stats.jobs.completed} / ${stats.jobs.cancelled}`;
    samples.push({ t: Date.now(), lag: stats.lag.recent_max_ms, rtt, util: stats.pool.utilization * 100 });
    while (samples.length && samples[0].t < Date.now() - WINDOW_MS) samples.shift();
    draw();
  } catch (error) {
    $("rtt").textContent = "no answer";
  } finally {
    // Poll again only after this answer: a blocked server shows up as a gap, then a spike.
    setTimeout(poll, Math.max(0, POLL_MS - (performance.now() - sent)));
  }
}

const SVG = "http://www.w3.org/2000/svg";
const W = 600;
const H = 150;
const PAD = 28;

function element(name, attrs, text) {
  const el = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, value);
  if (text !== undefined) el.textContent = text;
  return el;
}

function niceMax(value) {
  for (const step of [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000]) {
    if (value <= step) return step;
  }
  return Math.ceil(value / 10000) * 10000;
}

function chart(svg, series, top) {
  const now = Date.now();
  const x = (t) => PAD + ((t - (now - WINDOW_MS)) / WINDOW_MS) * (W - PAD - 4);
  const y = (v) => H - 14 - (Math.min(v, top) / top) * (H - 24);
  const children = [];
  for (const fraction of [0, 0.5, 1]) {
    const value = top * fraction;
    children.push(element("line", { class: "grid", x1: PAD, x2: W - 4, y1: y(value), y2: y(value) }));
    children.push(element("text", { class: "axis", x: 2, y: y(value) + 3 }, String(Math.round(value))));
  }
  children.push(element("text", { class: "axis", x: PAD, y: H - 2 }, "-30 s"));
  children.push(element("text", { class: "axis", x: W - 30, y: H - 2 }, "now"));
  for (const { key, id } of series) {
    const points = samples.map((s) => `${x(s.t).toFixed(1)},${y(s[key]).toFixed(1)}`).join(" ");
    const attrs = { points };
    if (id) attrs.id = id;
    children.push(element("polyline", attrs));
  }
  svg.replaceChildren(...children);
  svg.dataset.samples = String(samples.length);
}

function draw() {
  const peak = Math.max(10, ...samples.map((s) => Math.max(s.lag, s.rtt)));
  chart($("lag-chart"), [{ key: "lag" }, { key: "rtt", id: "ping-line" }], niceMax(peak));
  chart($("util-chart"), [{ key: "util" }], 100);
}

// ---- wiring -------------------------------------------------------------------------

$("job-form").addEventListener("submit", startJob);
$("stop").addEventListener("click", () => controller && controller.abort());
$("random").addEventListener("click", () => {
  $("data").value = JSON.stringify(randomData(22));
});
$("data").value = JSON.stringify(randomData(22));
poll();
