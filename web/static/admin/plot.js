// Small line plots in inline SVG, drawn with no library: one sample a
// second, the newest at the right edge, scaled to the largest value shown.

const SVG = "http://www.w3.org/2000/svg";

/** The width of a plot in samples: 15 minutes. */
const SAMPLES = 900;

/**
 * Draws series on svg (viewBox 0 0 300 80, stretched to its box), replacing
 * what was there, and returns the value at the top of the plot.
 *
 * @param {SVGSVGElement} svg
 * @param {{values: number[], className: string}[]} series
 * @returns {number}
 */
export function drawPlot(svg, series) {
  const width = 300;
  const height = 80;
  const top = Math.max(1, ...series.flatMap((s) => s.values));
  svg.replaceChildren();
  for (const s of series) {
    const n = s.values.length;
    if (n === 0) {
      continue;
    }
    const points = s.values.map((v, i) => {
      const x = width - ((n - 1 - i) * width) / (SAMPLES - 1);
      const y = height - 2 - (v / top) * (height - 14);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    });
    const line = document.createElementNS(SVG, "polyline");
    line.setAttribute("class", `line ${s.className}`);
    line.setAttribute("points", points.join(" "));
    svg.append(line);
  }
  return top;
}
