// A small cumulative step chart in inline SVG (no chart library): read and acknowledged over
// time against the recipient count. The same numbers are in a visually hidden table.
import { formatNumber, formatTime, h, svg, uid } from './dom.js';
import { t } from './i18n.js';

const H = 240;
const PAD = { left: 52, right: 16, top: 16, bottom: 36 };
const HOUR = 3_600_000;

// timeline: [{hour: ISO start of an Asia/Shanghai hour, read, acknowledged}] (per hour counts).
// Each hour's count is drawn from the start of that hour: the line shows, for every hour, the
// running total including that hour (the finest resolution the statistics have).
export function cumulativeSeries(timeline, keys, start, end) {
  const series = Object.fromEntries(keys.map((k) => [k, [{ x: start, y: 0 }]]));
  const totals = Object.fromEntries(keys.map((k) => [k, 0]));
  for (const bucket of [...timeline].sort((a, b) => Date.parse(a.hour) - Date.parse(b.hour))) {
    const at = Math.min(Math.max(Date.parse(bucket.hour), start), end);
    for (const k of keys) {
      totals[k] += bucket[k] || 0;
      series[k].push({ x: at, y: totals[k] });
    }
  }
  for (const k of keys) series[k].push({ x: end, y: totals[k] });
  return series;
}

// A whole-number tick step of 1, 2 or 5 × 10^k giving at most four intervals.
function niceStep(max) {
  const rough = Math.max(1, max / 4);
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  for (const step of [1, 2, 5, 10]) {
    if (step * magnitude >= rough) return step * magnitude;
  }
  return 10 * magnitude;
}

function stepPath(points, sx, sy) {
  let d = '';
  points.forEach((p, i) => {
    const x = sx(p.x).toFixed(1);
    const y = sy(p.y).toFixed(1);
    if (i === 0) d += `M${x},${y}`;
    else d += `H${x}V${y}`;
  });
  return d;
}

function tickLabel(ms, spanMs) {
  const text = formatTime(new Date(ms).toISOString());
  return spanMs > 36 * HOUR ? `${text.slice(5, 13)}:00` : text.slice(11, 16);
}

// width: the drawing's width in CSS pixels (the caller passes its container's), so labels keep
// their size on a phone instead of shrinking with a fixed viewBox.
export function lineChart({ title, series, ceiling = null, start, end, width = 640 }) {
  const W = Math.round(Math.min(Math.max(width, 300), 1200));
  const titleId = uid('chart-title');
  const descId = uid('chart-desc');
  const span = Math.max(end - start, HOUR);
  const top = Math.max(1, ceiling || 0, ...series.flatMap((s) => s.points.map((p) => p.y)));
  const step = niceStep(top);
  const yMax = Math.ceil(top / step) * step;
  const sx = (x) => PAD.left + ((x - start) / span) * (W - PAD.left - PAD.right);
  const sy = (y) => H - PAD.bottom - (y / yMax) * (H - PAD.top - PAD.bottom);

  const grid = [];
  for (let value = 0; value <= yMax; value += step) {
    grid.push(
      svg('line', { x1: PAD.left, x2: W - PAD.right, y1: sy(value), y2: sy(value), class: 'grid' }),
      svg('text', { x: PAD.left - 6, y: sy(value) + 4, class: 'axis-label', 'text-anchor': 'end', text: formatNumber(value) }),
    );
  }
  const ticks = [start, start + span / 2, start + span].map((x, i) => svg('text', {
    x: sx(x), y: H - PAD.bottom + 18, class: 'axis-label',
    'text-anchor': i === 0 ? 'start' : i === 2 ? 'end' : 'middle', text: tickLabel(x, span),
  }));
  const lines = series.map((s) => svg('path', {
    d: stepPath(s.points, sx, sy), class: `series ${s.className}`, fill: 'none',
  }));
  const ends = series.map((s) => {
    const last = s.points[s.points.length - 1];
    return svg('circle', { cx: sx(last.x), cy: sy(last.y), r: 3.5, class: `dot ${s.className}` });
  });
  const ceilingLine = ceiling ? [
    svg('line', { x1: PAD.left, x2: W - PAD.right, y1: sy(ceiling), y2: sy(ceiling), class: 'ceiling' }),
    svg('text', { x: W - PAD.right, y: sy(ceiling) - 5, class: 'axis-label', 'text-anchor': 'end', text: t('收件 {n}', { n: formatNumber(ceiling) }) }),
  ] : [];
  const summary = series.map((s) => `${s.label} ${formatNumber(s.points[s.points.length - 1].y)}`).join('，');
  const chart = svg('svg', {
    viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-labelledby': `${titleId} ${descId}`,
    preserveAspectRatio: 'xMidYMid meet',
  },
  svg('title', { id: titleId, text: title }),
  svg('desc', { id: descId, text: summary }),
  svg('line', { x1: PAD.left, x2: PAD.left, y1: PAD.top, y2: H - PAD.bottom, class: 'axis' }),
  svg('line', { x1: PAD.left, x2: W - PAD.right, y1: H - PAD.bottom, y2: H - PAD.bottom, class: 'axis' }),
  grid, ticks, ceilingLine, lines, ends);

  const legend = h('ul', { class: 'legend' }, series.map((s) => h('li', {},
    h('span', { class: `swatch ${s.className}`, 'aria-hidden': 'true' }), s.label)));
  const rows = series[0] ? series[0].points.slice(1, -1) : [];
  const table = h('table', { class: 'sr-only' },
    h('caption', {}, title),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('时间')),
      series.map((s) => h('th', { scope: 'col' }, s.label)))),
    h('tbody', {}, rows.map((p, i) => h('tr', {},
      h('th', { scope: 'row' }, formatTime(new Date(p.x).toISOString())),
      series.map((s) => h('td', {}, formatNumber(s.points[i + 1].y)))))));
  return h('figure', { class: 'chart-figure' }, chart, legend, table);
}
