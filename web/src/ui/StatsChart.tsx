// The daily statistics as a chart (uPlot: canvas, about 20 KB gzipped, no inline styles: it
// sizes its elements through element.style, which a strict CSP allows). Count as bars on the
// left axis; mean, min and max as lines on the right. The table beside it is the accessible
// reading; the canvas carries a one-sentence summary.

import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Series } from '../lib/stats';

const COLORS = { count: '#8fb8de', mean: '#1f6feb', min: '#1a7f37', max: '#cf222e' };

function options(width: number): uPlot.Options {
  return {
    width,
    height: 260,
    legend: { show: false },
    cursor: { points: { show: false } },
    // Half a day either side, so the first and last days' bars are drawn whole.
    scales: { x: { time: true, range: (_u, min, max) => [min - 43_200, max + 43_200] }, n: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.1] } },
    axes: [
      { stroke: '#57606a', grid: { stroke: '#eaeef2' } },
      { scale: 'n', label: 'count', stroke: '#57606a', grid: { stroke: '#eaeef2' } },
      { scale: 'v', side: 1, label: 'value', stroke: '#57606a', grid: { show: false } },
    ],
    series: [
      {},
      { label: 'count', scale: 'n', fill: COLORS.count, stroke: COLORS.count, paths: uPlot.paths.bars!({ size: [0.6, 40] }), points: { show: false } },
      { label: 'mean', scale: 'v', stroke: COLORS.mean, width: 2, spanGaps: false },
      { label: 'min', scale: 'v', stroke: COLORS.min, width: 1.5, dash: [4, 3], spanGaps: false },
      { label: 'max', scale: 'v', stroke: COLORS.max, width: 1.5, dash: [4, 3], spanGaps: false },
    ],
  };
}

export function StatsChart({ data, label }: { data: Series; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const el = box.current!;
    plot.current = new uPlot(options(Math.max(280, el.clientWidth)), data as uPlot.AlignedData, el);
    const ro = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(280, el.clientWidth), height: 260 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, []);

  useEffect(() => {
    plot.current?.setData(data as uPlot.AlignedData);
  }, [data]);

  return (
    <figure class="chart">
      <div ref={box} id="stats-chart" role="img" aria-label={label} />
      <figcaption>
        <ul class="legend" aria-hidden="true">
          <li class="count">count</li>
          <li class="mean">mean</li>
          <li class="min">min</li>
          <li class="max">max</li>
        </ul>
      </figcaption>
    </figure>
  );
}
