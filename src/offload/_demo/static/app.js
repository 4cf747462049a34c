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
  const list = $("matches");
  list.replaceChildren();
  let found = 0;
  $("match-count").textContent = "0";
  $("stop").disabled = false;
  const query = new URLSearchParams({ data: $("data").value.trim(), sum: $("sum").value.trim() });
  setStatus("running…");
  try {
    const response = await fetch("subset-sum?" + query, { signal: mine.signal });
    if (!response.ok) {
      const problem = await response.json().catch(() => ({ error: response.statusText }));
      setStatus(`${response.status}: ${problem.error}`, true);
      return;
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffered = "";
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
          found += 1;
          $("match-count").textContent = String(found);
          if (found <= MAX_LISTED) {
            const item = document.createElement("li");
            item.textContent = JSON.stringify(message.match);
            list.appendChild(item);
          }
        } else if (message.done) {
          showSummary(message);
        }
      }
    }
  } catch (error) {
    if (error.name === "AbortError") setStatus("stopped: the server cancelled the job in its worker");
    else setStatus(`failed: ${error}`, true);
  } finally {
    if (controller === mine) {
      controller = null;
      $("stop").disabled = true;
    }
  }
}

function showSummary(summary) {
  if (summary.error) {
    setStatus(`failed after ${summary.elapsed.toFixed(2)} s: ${summary.error}`, true);
    return;
  }
  const more = summary.count > summary.streamed ? ` (first ${summary.streamed} shown)` : "";
  setStatus(
    `done: ${summary.count} matches${more} in ${summary.elapsed.toFixed(2)} s ` +
      `with the ${summary.strategy} strategy`
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
