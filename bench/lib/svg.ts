/**
 * Tiny inline-SVG plots for the benchmark report (no dependency, no script: the HTML file stays
 * self-contained and opens anywhere). Every text goes through esc().
 */
export function esc(s: string | number): string {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const PALETTE = ['#3b6fb6', '#e07b39', '#4c9f70', '#b64c8f', '#8c7a3b', '#5a5a5a'];

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmtTick(v: number): string {
  if (v >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (v >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  return `${+v.toFixed(2)}`;
}

export interface BarGroup {
  label: string;
  /** One value per series, in the order of `series`. */
  values: number[];
}

/** Grouped vertical bars, e.g. messages/s per depth for native vs pure-TS. */
export function barChart(title: string, unit: string, series: string[], groups: BarGroup[]): string {
  const W = 560, H = 260, L = 60, B = 40, T = 30, R = 10;
  const max = niceMax(Math.max(0, ...groups.flatMap((g) => g.values.filter(Number.isFinite))));
  const plotW = W - L - R, plotH = H - T - B;
  const gw = plotW / Math.max(1, groups.length);
  const bw = (gw * 0.7) / Math.max(1, series.length);
  const y = (v: number): number => T + plotH - (v / max) * plotH;
  const parts: string[] = [];
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`);
    parts.push(`<text x="${L - 6}" y="${y(v) + 4}" text-anchor="end" font-size="11">${esc(fmtTick(v))}</text>`);
  }
  groups.forEach((g, gi) => {
    const x0 = L + gi * gw + gw * 0.15;
    g.values.forEach((v, si) => {
      if (!Number.isFinite(v)) return;
      const x = x0 + si * bw;
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${y(v).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${(T + plotH - y(v)).toFixed(1)}" fill="${PALETTE[si % PALETTE.length]}"><title>${esc(`${series[si] ?? ''} ${g.label}: ${fmtTick(v)} ${unit}`)}</title></rect>`,
      );
    });
    parts.push(`<text x="${(L + gi * gw + gw / 2).toFixed(1)}" y="${H - B + 16}" text-anchor="middle" font-size="12">${esc(g.label)}</text>`);
  });
  const legend = series
    .map((s, i) => `<rect x="${L + i * 130}" y="${H - 14}" width="10" height="10" fill="${PALETTE[i % PALETTE.length]}"/><text x="${L + i * 130 + 14}" y="${H - 5}" font-size="11">${esc(s)}</text>`)
    .join('');
  return svg(W, H, title, `${parts.join('')}<text x="14" y="${T + plotH / 2}" font-size="11" transform="rotate(-90 14 ${T + plotH / 2})" text-anchor="middle">${esc(unit)}</text>${legend}`);
}

/** A histogram of samples (latencies, migration gaps), with p50/p99 marked. */
export function histogram(title: string, unit: string, values: number[], bins = 30): string {
  const W = 560, H = 240, L = 50, B = 36, T = 30, R = 10;
  const xs = values.filter(Number.isFinite);
  if (xs.length === 0) return svg(W, 60, title, `<text x="10" y="45" font-size="12">no samples</text>`);
  const sorted = [...xs].sort((a, b) => a - b);
  const lo = sorted[0] ?? 0;
  const hi = Math.max(lo + 1e-9, sorted[sorted.length - 1] ?? 0);
  const width = (hi - lo) / bins;
  const counts = new Array<number>(bins).fill(0);
  for (const v of sorted) counts[Math.min(bins - 1, Math.floor((v - lo) / width))]++;
  const cmax = niceMax(Math.max(...counts));
  const plotW = W - L - R, plotH = H - T - B;
  const x = (v: number): number => L + ((v - lo) / (hi - lo)) * plotW;
  const parts: string[] = [];
  counts.forEach((c, i) => {
    const h = (c / cmax) * plotH;
    parts.push(`<rect x="${(L + (i * plotW) / bins).toFixed(1)}" y="${(T + plotH - h).toFixed(1)}" width="${Math.max(1, plotW / bins - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${PALETTE[0]}"><title>${esc(`${fmtTick(lo + i * width)}-${fmtTick(lo + (i + 1) * width)} ${unit}: ${c}`)}</title></rect>`);
  });
  for (const [p, color] of [[50, '#e07b39'], [99, '#b64c8f']] as const) {
    const v = sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? lo;
    parts.push(`<line x1="${x(v).toFixed(1)}" x2="${x(v).toFixed(1)}" y1="${T}" y2="${T + plotH}" stroke="${color}" stroke-dasharray="4 3"/>`);
    parts.push(markerLabel(x(v), T + 10 + (p === 99 ? 12 : 0), `p${p} ${fmtTick(v)}`, color, W - R));
  }
  for (let i = 0; i <= 4; i++) {
    const v = lo + ((hi - lo) * i) / 4;
    parts.push(`<text x="${x(v).toFixed(1)}" y="${H - B + 14}" text-anchor="middle" font-size="11">${esc(fmtTick(v))}</text>`);
  }
  parts.push(`<text x="${L + plotW / 2}" y="${H - 6}" text-anchor="middle" font-size="11">${esc(`${unit} (${xs.length} samples)`)}</text>`);
  parts.push(`<text x="${L - 6}" y="${T + 4}" text-anchor="end" font-size="11">${cmax}</text><text x="${L - 6}" y="${T + plotH}" text-anchor="end" font-size="11">0</text>`);
  return svg(W, H, title, parts.join(''));
}

/** A label beside a marker line, flipped to the line's left when it would run past `right`. */
function markerLabel(x: number, y: number, text: string, color: string, right: number): string {
  const width = text.length * 6.5;
  const flip = x + 3 + width > right;
  return `<text x="${(flip ? x - 3 : x + 3).toFixed(1)}" y="${y}" font-size="11" fill="${color}" text-anchor="${flip ? 'end' : 'start'}">${esc(text)}</text>`;
}

export interface Series {
  name: string;
  values: number[];
}

/**
 * Overlaid histograms on one x axis from 0 to `max` (pass the same max to every chart that is to
 * be compared), each series with its p50 and p99 marked and named in the legend.
 */
export function overlayHistogram(title: string, unit: string, series: Series[], max: number, bins = 30): string {
  const W = 560, H = 260, L = 50, B = 52, T = 30, R = 14;
  const hi = niceMax(max);
  const width = hi / bins;
  const plotW = W - L - R, plotH = H - T - B;
  const counts = series.map((s) => {
    const c = new Array<number>(bins).fill(0);
    for (const v of s.values) if (Number.isFinite(v)) c[Math.min(bins - 1, Math.max(0, Math.floor(v / width)))]++;
    return c;
  });
  const cmax = niceMax(Math.max(1, ...counts.flat()));
  const x = (v: number): number => L + (Math.min(v, hi) / hi) * plotW;
  const parts: string[] = [];
  series.forEach((s, si) => {
    const color = PALETTE[si % PALETTE.length] as string;
    counts[si]?.forEach((c, i) => {
      if (c === 0) return;
      const h = (c / cmax) * plotH;
      parts.push(`<rect x="${(L + (i * plotW) / bins).toFixed(1)}" y="${(T + plotH - h).toFixed(1)}" width="${Math.max(1, plotW / bins - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${color}" fill-opacity="0.55"><title>${esc(`${s.name} ${fmtTick(i * width)}-${fmtTick((i + 1) * width)} ${unit}: ${c}`)}</title></rect>`);
    });
    const sorted = s.values.filter(Number.isFinite).sort((a, b) => a - b);
    if (sorted.length === 0) return;
    for (const p of [50, 99] as const) {
      const v = sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
      parts.push(`<line x1="${x(v).toFixed(1)}" x2="${x(v).toFixed(1)}" y1="${T}" y2="${T + plotH}" stroke="${color}" stroke-dasharray="${p === 50 ? '4 3' : '1 2'}"/>`);
      parts.push(markerLabel(x(v), T + 10 + si * 24 + (p === 99 ? 12 : 0), `${s.name} p${p} ${fmtTick(v >= 10 ? Math.round(v) : v)}`, color, W - R));
    }
  });
  for (let i = 0; i <= 4; i++) {
    const v = (hi * i) / 4;
    parts.push(`<text x="${x(v).toFixed(1)}" y="${T + plotH + 14}" text-anchor="${i === 4 ? 'end' : 'middle'}" font-size="11">${esc(fmtTick(v))}</text>`);
  }
  parts.push(`<text x="${L + plotW / 2}" y="${T + plotH + 28}" text-anchor="middle" font-size="11">${esc(unit)}</text>`);
  parts.push(`<text x="${L - 6}" y="${T + 4}" text-anchor="end" font-size="11">${cmax}</text><text x="${L - 6}" y="${T + plotH}" text-anchor="end" font-size="11">0</text>`);
  const legend = series
    .map((s, i) => `<rect x="${L + i * 200}" y="${H - 14}" width="10" height="10" fill="${PALETTE[i % PALETTE.length]}" fill-opacity="0.55"/><text x="${L + i * 200 + 14}" y="${H - 5}" font-size="11">${esc(`${s.name} (${s.values.length} clients)`)}</text>`)
    .join('');
  return svg(W, H, title, parts.join('') + legend);
}

function svg(w: number, h: number, title: string, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="${esc(title)}"><text x="${w / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">${esc(title)}</text>${body}</svg>`;
}
