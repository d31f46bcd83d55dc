/** Figures (`gm.plot`): plotly specs built from tidy rows with composable marks, and their export to PNG/SVG/PDF. */
export { figure, line, dot, bar, errorBars, ruleX, ruleY } from './marks';
export type { Channel, Mark, MarkOptions, DotOptions, LineOptions, ErrorBarOptions, RuleOptions, SeriesStyle, AxisOptions, FigureOptions } from './marks';
export { scatter, histogram, overlay } from './figure';
export type { Figure, Trace, AxisLabels, ScatterOptions, HistogramOptions } from './figure';
export { lossCurve, lossFigure } from './loss';
export type { LossRecord } from './loss';
export { exportFigure, closeSharedRenderer } from './export';
export type { ExportOptions, ImageFormat } from './export';
