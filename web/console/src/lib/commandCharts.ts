// ECharts for the command centre and the scorecards: only the chart types and components
// used are registered (echarts/core), so the charts load with these routes alone.
import * as echarts from 'echarts/core'
import { BarChart, EffectScatterChart, LineChart, PieChart, ScatterChart } from 'echarts/charts'
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components'
import { CanvasRenderer } from 'echarts/renderers'
import type { ComposeOption } from 'echarts/core'
import type { BarSeriesOption, EffectScatterSeriesOption, LineSeriesOption, PieSeriesOption,
  ScatterSeriesOption } from 'echarts/charts'
import type { GridComponentOption, LegendComponentOption, TooltipComponentOption } from 'echarts/components'

echarts.use([BarChart, EffectScatterChart, LineChart, PieChart, ScatterChart, GridComponent,
  LegendComponent, TooltipComponent, CanvasRenderer])

export type ChartOption = ComposeOption<BarSeriesOption | EffectScatterSeriesOption | LineSeriesOption
  | PieSeriesOption | ScatterSeriesOption | GridComponentOption | LegendComponentOption
  | TooltipComponentOption>

export { echarts }

const TEXT = '#d6e4ff'
const AXIS = { axisLabel: { color: TEXT }, axisLine: { lineStyle: { color: '#4a6488' } },
  splitLine: { lineStyle: { color: '#22385a' } } }

/** Reported and closed per day, two lines. */
export function trendOption(days: { date: string; reported: number; closed: number }[],
  names: { reported: string; closed: string }): ChartOption {
  return {
    animation: false,
    tooltip: { trigger: 'axis' },
    legend: { textStyle: { color: TEXT }, top: 0 },
    grid: { left: 48, right: 16, top: 32, bottom: 28 },
    xAxis: { type: 'category', data: days.map((d) => d.date.slice(5)), ...AXIS },
    yAxis: { type: 'value', minInterval: 1, ...AXIS },
    series: [
      { name: names.reported, type: 'line', smooth: true, data: days.map((d) => d.reported),
        itemStyle: { color: '#3ba0ff' } },
      { name: names.closed, type: 'line', smooth: true, data: days.map((d) => d.closed),
        itemStyle: { color: '#36cbcb' } },
    ],
  }
}

/** Cases by category, as horizontal bars (largest on top). */
export function categoryOption(entries: [string, number][]): ChartOption {
  const rows = [...entries].reverse()
  return {
    animation: false,
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
    grid: { left: 8, right: 40, top: 8, bottom: 8, containLabel: true },
    xAxis: { type: 'value', minInterval: 1, ...AXIS },
    yAxis: { type: 'category', data: rows.map(([name]) => name), ...AXIS },
    series: [{ type: 'bar', data: rows.map(([, n]) => n), barMaxWidth: 18,
      itemStyle: { color: '#f2a93b' }, label: { show: true, position: 'right', color: TEXT } }],
  }
}

export interface MapSeriesInput {
  width: number
  height: number
  /** [left, top] in the view, and the category name for the tooltip. */
  points: { at: [number, number]; name: string; open: boolean }[]
  hotspots: { at: [number, number]; name: string; count: number }[]
  names: { open: string; done: string; hotspot: string }
}

/** Case points over the map view (x right, y down, in view pixels, so tiles line up under
 * it), open ones red; hotspots as pulsing circles sized by their report count. */
export function mapOption(input: MapSeriesInput): ChartOption {
  const axis = { show: false, min: 0 }
  const scatter = (open: boolean): ScatterSeriesOption => ({
    name: open ? input.names.open : input.names.done, type: 'scatter', symbolSize: 8,
    large: true, itemStyle: { color: open ? '#ff4d4f' : '#52c41a', opacity: 0.85 },
    data: input.points.filter((p) => p.open === open).map((p) => ({ value: p.at, name: p.name })),
  })
  return {
    animation: false,
    tooltip: { trigger: 'item', formatter: (p: unknown) => (p as { name: string }).name },
    legend: { textStyle: { color: TEXT }, top: 4, right: 8 },
    grid: { left: 0, right: 0, top: 0, bottom: 0 },
    xAxis: { ...axis, type: 'value', max: input.width },
    yAxis: { ...axis, type: 'value', max: input.height, inverse: true },
    series: [
      scatter(true), scatter(false),
      { name: input.names.hotspot, type: 'effectScatter', rippleEffect: { scale: 3 },
        symbolSize: (_value: unknown, p: { data?: unknown }) =>
          12 + Math.min(24, ((p.data as { count?: number } | undefined)?.count ?? 0) * 2),
        itemStyle: { color: 'rgba(250, 140, 22, 0.8)' },
        data: input.hotspots.map((h) => ({ value: h.at, name: h.name, count: h.count })) },
    ],
  }
}

/** The scorecard rates month by month, one line each (percent). */
export function ratesOption(months: string[], lines: { name: string; rates: (number | null)[] }[]): ChartOption {
  const axis = { axisLabel: { color: '#606266' } }
  return {
    animation: false,
    tooltip: { trigger: 'axis' },
    legend: { top: 0 },
    grid: { left: 48, right: 16, top: 40, bottom: 28 },
    xAxis: { type: 'category', data: months.map((m) => m.slice(0, 7)), ...axis },
    yAxis: { type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value}%' } },
    series: lines.map((line) => ({
      name: line.name, type: 'line', connectNulls: false,
      data: line.rates.map((r) => (r === null ? null : Math.round(r * 1000) / 10)),
    })),
  }
}
