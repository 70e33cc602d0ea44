// Plain SVG charts for the report (no dependency: docs/benchmark.md "Charts" says why): a line
// chart on log axes (p95 or buffers against rows, one series per routine) and grouped
// horizontal bars on a log axis (before against after).

export interface Series {
  name: string;
  points: [number, number][];
}

export interface LineChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Horizontal reference lines, e.g. a budget. */
  references?: { y: number; label: string }[];
}

export interface BarGroup {
  label: string;
  /** One bar per entry; a value ≤ 0 or NaN draws no bar. */
  bars: { name: string; value: number }[];
  /** Printed after the group's bars, e.g. "23× faster". */
  note?: string;
}

export interface BarChartSpec {
  title: string;
  xLabel: string;
  groups: BarGroup[];
  /** Bar names in legend order (their colors are fixed by this order). */
  legend: string[];
}

/** 20 distinguishable colors (Tableau 10 and its lighter partners, reordered). */
export const PALETTE = [
  "#1f77b4",
  "#ff7f0e",
  "#2ca02c",
  "#d62728",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
  "#17becf",
  "#aec7e8",
  "#ffbb78",
  "#98df8a",
  "#ff9896",
  "#c5b0d5",
  "#c49c94",
  "#f7b6d2",
  "#c7c7c7",
  "#dbdb8d",
  "#9edae5",
];

/** Text for XML: & < > " escaped. */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

const fmt = (x: number) => (Math.round(x * 100) / 100).toString();

/** Decades covering [min, max] on a log axis: 10^a .. 10^b. */
function decades(min: number, max: number): [number, number] {
  const lo = Math.floor(Math.log10(min));
  let hi = Math.ceil(Math.log10(max));
  if (hi <= lo) hi = lo + 1;
  return [lo, hi];
}

/** Ticks on a log axis: 1, 2, 5 per decade when the axis spans few decades, else each decade. */
function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  const steps = hi - lo <= 3 ? [1, 2, 5] : [1];
  for (let d = lo; d <= hi; d++)
    for (const s of steps) if (d < hi || s === 1) ticks.push(s * 10 ** d);
  return ticks;
}

export function tickLabel(value: number): string {
  if (value >= 1_000_000) return `${fmt(value / 1_000_000)}M`;
  if (value >= 1000) return `${fmt(value / 1000)}k`;
  if (value >= 1) return fmt(value);
  return String(Number(value.toPrecision(2)));
}

const FONT = `font-family="system-ui, -apple-system, 'Segoe UI', sans-serif"`;

/** A line chart, both axes logarithmic; one colored polyline with dots per series and a legend on the right. */
export function lineChart(spec: LineChartSpec): string {
  const width = 900;
  const legendWidth = 260;
  const height = Math.max(460, 90 + spec.series.length * 18);
  const m = { left: 70, right: legendWidth + 20, top: 50, bottom: 60 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;

  const xs = spec.series
    .flatMap((s) => s.points.map((p) => p[0]))
    .filter((v) => v > 0 && Number.isFinite(v));
  const ys = [
    ...spec.series.flatMap((s) => s.points.map((p) => p[1])),
    ...(spec.references ?? []).map((r) => r.y),
  ].filter((v) => v > 0 && Number.isFinite(v));
  const [xlo, xhi] = decades(
    xs.length ? Math.min(...xs) : 1000,
    xs.length ? Math.max(...xs) : 1_000_000,
  );
  const [ylo, yhi] = decades(
    ys.length ? Math.min(...ys) : 0.01,
    ys.length ? Math.max(...ys) : 100,
  );
  const x = (v: number) =>
    m.left + ((Math.log10(v) - xlo) / (xhi - xlo)) * plotW;
  const y = (v: number) =>
    m.top + plotH - ((Math.log10(v) - ylo) / (yhi - ylo)) * plotH;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">`,
  );
  out.push(`<title>${escapeXml(spec.title)}</title>`);
  out.push(
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
  );
  out.push(
    `<text x="${m.left}" y="28" font-size="16" font-weight="600">${escapeXml(spec.title)}</text>`,
  );

  // Grid and ticks.
  out.push(`<g class="grid" stroke="#e5e5e5" stroke-width="1">`);
  for (const t of logTicks(ylo, yhi))
    out.push(
      `<line x1="${m.left}" y1="${fmt(y(t))}" x2="${m.left + plotW}" y2="${fmt(y(t))}"/>`,
    );
  for (const t of logTicks(xlo, xhi))
    out.push(
      `<line x1="${fmt(x(t))}" y1="${m.top}" x2="${fmt(x(t))}" y2="${m.top + plotH}"/>`,
    );
  out.push(`</g>`);
  out.push(`<g class="axes" fill="#444">`);
  for (const t of logTicks(ylo, yhi))
    out.push(
      `<text x="${m.left - 8}" y="${fmt(y(t) + 4)}" text-anchor="end">${escapeXml(tickLabel(t))}</text>`,
    );
  for (const t of logTicks(xlo, xhi))
    out.push(
      `<text x="${fmt(x(t))}" y="${m.top + plotH + 18}" text-anchor="middle">${escapeXml(tickLabel(t))}</text>`,
    );
  out.push(
    `<text x="${m.left + plotW / 2}" y="${height - 16}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`,
  );
  out.push(
    `<text transform="translate(18 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(spec.yLabel)}</text>`,
  );
  out.push(`</g>`);
  out.push(
    `<rect x="${m.left}" y="${m.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`,
  );

  for (const r of spec.references ?? []) {
    if (!(r.y > 0)) continue;
    out.push(
      `<g class="reference"><line x1="${m.left}" y1="${fmt(y(r.y))}" x2="${m.left + plotW}" y2="${fmt(y(r.y))}" stroke="#d62728" stroke-dasharray="6 4"/>`,
    );
    out.push(
      `<text x="${m.left + plotW - 4}" y="${fmt(y(r.y) - 5)}" text-anchor="end" fill="#d62728">${escapeXml(r.label)}</text></g>`,
    );
  }

  spec.series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length]!;
    // Past the palette, colors come round again: dashed lines tell those series apart.
    const dash = i >= PALETTE.length ? ` stroke-dasharray="6 3"` : "";
    const pts = s.points
      .filter(
        ([px, py]) =>
          px > 0 && py > 0 && Number.isFinite(px) && Number.isFinite(py),
      )
      .sort((a, b) => a[0] - b[0]);
    out.push(`<g class="series" data-name="${escapeXml(s.name)}">`);
    if (pts.length > 1) {
      out.push(
        `<polyline fill="none" stroke="${color}" stroke-width="2"${dash} points="${pts.map(([px, py]) => `${fmt(x(px))},${fmt(y(py))}`).join(" ")}"/>`,
      );
    }
    for (const [px, py] of pts) {
      out.push(
        `<circle cx="${fmt(x(px))}" cy="${fmt(y(py))}" r="3.5" fill="${color}"><title>${escapeXml(`${s.name}: ${tickLabel(px)} rows, ${fmt(py)}`)}</title></circle>`,
      );
    }
    const ly = m.top + 6 + i * 18;
    const lx = width - legendWidth;
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 18}" y2="${ly}" stroke="${color}" stroke-width="3"${dash}/>`,
    );
    out.push(`<text x="${lx + 24}" y="${ly + 4}">${escapeXml(s.name)}</text>`);
    out.push(`</g>`);
  });
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}

/** Grouped horizontal bars on a logarithmic axis: one group per routine, one bar per side. */
export function barChart(spec: BarChartSpec): string {
  const width = 900;
  const barH = 9;
  const groupH = spec.legend.length * barH + 10;
  const m = { left: 260, right: 90, top: 70, bottom: 50 };
  const height = m.top + m.bottom + spec.groups.length * groupH;
  const plotW = width - m.left - m.right;
  const plotH = spec.groups.length * groupH;
  const values = spec.groups
    .flatMap((g) => g.bars.map((b) => b.value))
    .filter((v) => v > 0 && Number.isFinite(v));
  const [lo, hi] = decades(
    values.length ? Math.min(...values) : 0.01,
    values.length ? Math.max(...values) : 100,
  );
  const x = (v: number) => m.left + ((Math.log10(v) - lo) / (hi - lo)) * plotW;
  const colorOf = (name: string) =>
    PALETTE[(spec.legend.indexOf(name) + PALETTE.length) % PALETTE.length]!;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">`,
  );
  out.push(`<title>${escapeXml(spec.title)}</title>`);
  out.push(
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
  );
  out.push(
    `<text x="16" y="28" font-size="16" font-weight="600">${escapeXml(spec.title)}</text>`,
  );
  spec.legend.forEach((name, i) => {
    const lx =
      m.left +
      spec.legend.slice(0, i).reduce((sum, n) => sum + 40 + n.length * 7, 0);
    out.push(
      `<rect x="${lx}" y="42" width="14" height="10" fill="${colorOf(name)}"/><text x="${lx + 20}" y="51">${escapeXml(name)}</text>`,
    );
  });
  out.push(`<g class="grid" stroke="#e5e5e5">`);
  for (const t of logTicks(lo, hi))
    out.push(
      `<line x1="${fmt(x(t))}" y1="${m.top}" x2="${fmt(x(t))}" y2="${m.top + plotH}"/>`,
    );
  out.push(`</g><g class="axes" fill="#444">`);
  for (const t of logTicks(lo, hi))
    out.push(
      `<text x="${fmt(x(t))}" y="${m.top + plotH + 16}" text-anchor="middle">${escapeXml(tickLabel(t))}</text>`,
    );
  out.push(
    `<text x="${m.left + plotW / 2}" y="${height - 12}" text-anchor="middle">${escapeXml(spec.xLabel)}</text></g>`,
  );

  spec.groups.forEach((g, gi) => {
    const top = m.top + gi * groupH + 5;
    out.push(`<g class="group" data-name="${escapeXml(g.label)}">`);
    out.push(
      `<text x="${m.left - 8}" y="${top + (spec.legend.length * barH) / 2 + 4}" text-anchor="end">${escapeXml(g.label)}</text>`,
    );
    g.bars.forEach((b) => {
      const i = Math.max(0, spec.legend.indexOf(b.name));
      if (!(b.value > 0) || !Number.isFinite(b.value)) return;
      const w = Math.max(1, x(b.value) - m.left);
      out.push(
        `<rect x="${m.left}" y="${top + i * barH}" width="${fmt(w)}" height="${barH - 1}" fill="${colorOf(b.name)}"><title>${escapeXml(`${g.label}, ${b.name}: ${fmt(b.value)}`)}</title></rect>`,
      );
    });
    if (g.note) {
      const end = Math.max(
        ...g.bars.map((b) =>
          b.value > 0 && Number.isFinite(b.value) ? x(b.value) : m.left,
        ),
      );
      out.push(
        `<text x="${fmt(end + 6)}" y="${top + (spec.legend.length * barH) / 2 + 4}" fill="#333">${escapeXml(g.note)}</text>`,
      );
    }
    out.push(`</g>`);
  });
  out.push(
    `<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${m.top + plotH}" stroke="#999"/>`,
  );
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}
