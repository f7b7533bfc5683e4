// The dashboard's chart, in its own chunk: only the dashboard imports it (dynamically), so the
// console's entry stays small. Chart.js with just the pieces a bar-and-line chart needs.
import { BarController, BarElement, CategoryScale, Chart, Legend, LineController, LineElement, LinearScale, PointElement, Tooltip } from 'chart.js';

Chart.register(BarController, BarElement, CategoryScale, Legend, LineController, LineElement, LinearScale, PointElement, Tooltip);

interface Series { label: string; data: number[] }

/** Issued and redeemed as bars, outstanding as a line on its own axis; figures are display-only. */
export function drawMonthChart(canvas: HTMLCanvasElement, figures: { labels: string[]; issued: Series; redeemed: Series; outstanding: Series }): Chart {
  return new Chart(canvas, {
    data: {
      labels: figures.labels,
      datasets: [
        { type: 'bar', label: figures.issued.label, data: figures.issued.data, backgroundColor: '#b71c1c', yAxisID: 'flow' },
        { type: 'bar', label: figures.redeemed.label, data: figures.redeemed.data, backgroundColor: '#d48806', yAxisID: 'flow' },
        { type: 'line', label: figures.outstanding.label, data: figures.outstanding.data, borderColor: '#0958d9', backgroundColor: '#0958d9', yAxisID: 'stock', tension: 0.2 },
      ],
    },
    options: {
      responsive: true, maintainAspectRatio: false, animation: false,
      interaction: { mode: 'index', intersect: false },
      scales: {
        flow: { type: 'linear', position: 'left', beginAtZero: true },
        stock: { type: 'linear', position: 'right', beginAtZero: true, grid: { drawOnChartArea: false } },
      },
      plugins: { legend: { position: 'bottom' } },
    },
  });
}
