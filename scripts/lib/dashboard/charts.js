// Runs in the browser: draws each <canvas data-chart> of the page with Chart.js (served from
// node_modules at /static/chart.umd.js). The chart's data is the JSON of `Chart` in pages.ts.
/* global Chart */
for (const canvas of document.querySelectorAll("canvas[data-chart]")) {
  const spec = JSON.parse(canvas.dataset.chart);
  new Chart(canvas, {
    type: spec.type,
    data: {
      labels: spec.labels,
      datasets: spec.datasets.map((d) => ({
        ...d,
        borderWidth: spec.type === "line" ? 2 : 1,
        pointRadius: spec.type === "line" ? 2 : undefined,
        spanGaps: true,
      })),
    },
    options: {
      maintainAspectRatio: false,
      animation: false,
      scales: {
        y: {
          type: spec.logarithmic ? "logarithmic" : "linear",
          title: { display: true, text: spec.y },
          beginAtZero: !spec.logarithmic,
        },
      },
    },
  });
  canvas.dataset.drawn = "true";
}
