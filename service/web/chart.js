// Two small chart kinds as inline SVG, enough for the console: stacked bars over time and
// grouped bars. Each chart carries a text summary (aria-label) and a legend; the numbers
// themselves are in the tables next to the charts.

const SVG = "http://www.w3.org/2000/svg";
export const PALETTE = ["#1f5fbf", "#d9730d", "#2e8540", "#a4262c", "#6b4fbb", "#00838f", "#8d6e63"];
const W = 480;
const H = 220;
const PAD = { left: 44, right: 8, top: 10, bottom: 28 };

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function niceMax(value) {
  if (value <= 0) return 1;
  const step = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * step >= value) return m * step;
  return 10 * step;
}

function frame(label, max, format) {
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label });
  const plotH = H - PAD.top - PAD.bottom;
  for (let i = 0; i <= 4; i++) {
    const value = (max * i) / 4;
    const y = PAD.top + plotH - (plotH * i) / 4;
    root.append(svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y, stroke: "#d8dde3" }));
    root.append(svg("text", { x: PAD.left - 4, y: y + 4, "text-anchor": "end", "font-size": 11, fill: "#56606c" }, format(value)));
  }
  return root;
}

function legend(names) {
  const list = document.createElement("ul");
  list.className = "legend";
  names.forEach((name, i) => {
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.style.background = PALETTE[i % PALETTE.length];
    item.append(swatch, name);
    list.append(item);
  });
  return list;
}

// slots: [{label, values: {series: number}}] in time order; series: names in legend order.
const count = (v) => (Number.isInteger(v) ? String(v) : v.toFixed(1));

export function stackedBars({ slots, series, label, format = count }) {
  const totals = slots.map((s) => series.reduce((sum, name) => sum + (s.values[name] ?? 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const root = frame(label, max, format);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const width = plotW / Math.max(slots.length, 1);
  slots.forEach((slot, i) => {
    let base = 0;
    series.forEach((name, j) => {
      const value = slot.values[name] ?? 0;
      if (!value) return;
      const h = (plotH * value) / max;
      const y = PAD.top + plotH - (plotH * base) / max - h;
      const bar = svg("rect", {
        x: PAD.left + i * width + width * 0.1, y, width: Math.max(width * 0.8, 1), height: h,
        fill: PALETTE[j % PALETTE.length],
      });
      bar.append(svg("title", {}, `${slot.label}: ${name} ${format(value)}`));
      root.append(bar);
      base += value;
    });
  });
  const ticks = Math.min(4, slots.length);
  for (let t = 0; t < ticks; t++) {
    const i = Math.round((t * (slots.length - 1)) / Math.max(ticks - 1, 1));
    const anchor = t === 0 ? "start" : t === ticks - 1 ? "end" : "middle";
    const x = t === 0 ? PAD.left : t === ticks - 1 ? W - PAD.right : PAD.left + (i + 0.5) * width;
    root.append(svg("text", { x, y: H - 8, "text-anchor": anchor, "font-size": 11, fill: "#56606c" }, slots[i].label));
  }
  return [root, legend(series)];
}

// groups: labels along the x axis; series: [{name, values: [number per group]}].
export function groupedBars({ groups, series, label, format = (v) => v.toFixed(2) }) {
  const max = niceMax(Math.max(0, ...series.flatMap((s) => s.values)));
  const root = frame(label, max, format);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const width = plotW / Math.max(groups.length, 1);
  const bar = Math.min((width * 0.8) / Math.max(series.length, 1), 36);
  const inset = (width - bar * series.length) / 2;
  groups.forEach((group, i) => {
    series.forEach((s, j) => {
      const value = s.values[i] ?? 0;
      const h = (plotH * value) / max;
      const rect = svg("rect", {
        x: PAD.left + i * width + inset + j * bar, y: PAD.top + plotH - h,
        width: Math.max(bar - 1, 1), height: h, fill: PALETTE[j % PALETTE.length],
      });
      rect.append(svg("title", {}, `${group}: ${s.name} ${format(value)}`));
      root.append(rect);
    });
    if (groups.length <= 12 || i % Math.ceil(groups.length / 12) === 0) {
      const text = group.length > 18 ? `${group.slice(0, 17)}…` : group;
      root.append(svg("text", {
        x: PAD.left + (i + 0.5) * width, y: H - 8, "text-anchor": "middle", "font-size": 11, fill: "#56606c",
      }, text));
    }
  });
  return [root, legend(series.map((s) => s.name))];
}
