package rehearse

import (
	"fmt"
	"image/color"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

var (
	colorDemand   = color.RGBA{R: 214, G: 39, B: 40, A: 255}
	colorShort    = color.NRGBA{R: 214, G: 39, B: 40, A: 70}
	colorReady    = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	colorDesired  = color.RGBA{R: 255, G: 127, B: 14, A: 255}
	colorLimit    = color.RGBA{R: 90, G: 90, B: 90, A: 255}
	colorStage    = color.RGBA{R: 180, G: 180, B: 180, A: 255}
	dashed        = []vg.Length{vg.Points(5), vg.Points(3)}
	dotted        = []vg.Length{vg.Points(1.5), vg.Points(2.5)}
	plotW, plotH  = 11 * vg.Inch, 5.5 * vg.Inch
	minutesPerSec = 1.0 / 60
)

// Plot draws a rehearsal in pods over minutes: the demand as the pods it
// needs (demand / perPodRps, so one scale holds demand and capacity), the
// ready pods (the capacity), the HPA's desired replicas, minReplicas and
// maxReplicas, the shape's stages, and the under-provisioned area shaded.
// It writes name.png and name.svg into dir and returns their paths.
func Plot(dir, name, title string, res *Result) ([]string, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "minutes since the shape started"
	p.Y.Label.Text = fmt.Sprintf("pods (1 pod serves %.0f req/s at the HPA's %d %% CPU target)", res.Demand.PerPodRPS, res.Target.CPUTargetPercent)
	p.Legend.Top, p.Legend.Left = true, false
	p.Add(plotter.NewGrid())

	var demand, ready, desired plotter.XYs
	var shortfalls []plotter.XYer
	var segDemand, segReady plotter.XYs
	closeSegment := func() {
		if len(segDemand) > 1 {
			ring := append(plotter.XYs{}, segDemand...)
			for i := len(segReady) - 1; i >= 0; i-- {
				ring = append(ring, segReady[i])
			}
			shortfalls = append(shortfalls, ring)
		}
		segDemand, segReady = nil, nil
	}
	top := float64(res.Target.MinReplicas + 1)
	for _, s := range res.Samples {
		x := s.T.Seconds() * minutesPerSec
		need := s.DemandRPS / res.Demand.PerPodRPS
		demand = append(demand, plotter.XY{X: x, Y: need})
		ready = append(ready, plotter.XY{X: x, Y: float64(s.Ready)})
		desired = append(desired, plotter.XY{X: x, Y: float64(s.Desired)})
		top = max(top, need, float64(s.Desired))
		if need > float64(s.Ready) {
			segDemand = append(segDemand, plotter.XY{X: x, Y: need})
			segReady = append(segReady, plotter.XY{X: x, Y: float64(s.Ready)})
		} else {
			closeSegment()
		}
	}
	closeSegment()
	if len(demand) == 0 {
		return nil, fmt.Errorf("plot %s: no samples", name)
	}
	if len(shortfalls) > 0 {
		poly, err := plotter.NewPolygon(shortfalls...)
		if err != nil {
			return nil, err
		}
		poly.Color, poly.LineStyle.Width = colorShort, 0
		p.Add(poly)
		p.Legend.Add("under-provisioned", poly)
	}
	xEnd := demand[len(demand)-1].X
	// maxReplicas far above everything (production's 50 against a peak of
	// 8) would flatten the plot: it is then named at the top instead.
	maxOnScale := float64(res.Target.MaxReplicas) <= top*1.5
	if maxOnScale {
		top = max(top, float64(res.Target.MaxReplicas))
	}
	// The shape's stages: a vertical line where each starts, its target on top.
	var stageLabels plotter.XYLabels
	prevTarget := res.Demand.Shape.StartVUs
	for i, at := range res.Demand.StageStarts() {
		x := at.Seconds() * minutesPerSec
		l, err := plotter.NewLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: top * 1.1}})
		if err != nil {
			return nil, err
		}
		l.Color, l.Dashes, l.Width = colorStage, dotted, vg.Points(1)
		p.Add(l)
		// Label the ramps only (a plateau keeps its ramp's target).
		if i < len(res.Demand.Shape.Stages) && res.Demand.Shape.Stages[i].Target != prevTarget {
			stageLabels.XYs = append(stageLabels.XYs, plotter.XY{X: x, Y: top * 1.05})
			stageLabels.Labels = append(stageLabels.Labels, fmt.Sprintf(" →%d VUs", res.Demand.Shape.Stages[i].Target))
		}
		if i < len(res.Demand.Shape.Stages) {
			prevTarget = res.Demand.Shape.Stages[i].Target
		}
	}
	if len(stageLabels.XYs) > 0 {
		labels, err := plotter.NewLabels(stageLabels)
		if err != nil {
			return nil, err
		}
		for i := range labels.TextStyle {
			labels.TextStyle[i].Color = colorLimit
		}
		p.Add(labels)
	}
	limits := []struct {
		y     int32
		label string
	}{{res.Target.MinReplicas, "minReplicas"}}
	if maxOnScale {
		limits = append(limits, struct {
			y     int32
			label string
		}{res.Target.MaxReplicas, "maxReplicas"})
	} else {
		lab, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: 0, Y: top * 1.25}},
			Labels: []string{fmt.Sprintf(" maxReplicas %d: above the plot", res.Target.MaxReplicas)}})
		if err != nil {
			return nil, err
		}
		lab.TextStyle[0].Color = colorLimit
		p.Add(lab)
	}
	for _, h := range limits {
		l, err := plotter.NewLine(plotter.XYs{{X: 0, Y: float64(h.y)}, {X: xEnd, Y: float64(h.y)}})
		if err != nil {
			return nil, err
		}
		l.Color, l.Dashes, l.Width = colorLimit, dashed, vg.Points(1)
		p.Add(l)
		lab, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: xEnd, Y: float64(h.y)}}, Labels: []string{fmt.Sprintf("%s %d", h.label, h.y)}})
		if err != nil {
			return nil, err
		}
		lab.TextStyle[0].Color = colorLimit
		lab.TextStyle[0].XAlign = -1 // right-aligned at the end
		lab.TextStyle[0].YAlign = 0
		p.Add(lab)
	}
	for _, series := range []struct {
		xys   plotter.XYs
		label string
		c     color.Color
		step  bool
		dash  []vg.Length
		width vg.Length
	}{
		{demand, "demand, in pods needed", colorDemand, false, nil, 2},
		{desired, "HPA desired replicas", colorDesired, true, dashed, 1.5},
		{ready, "ready pods (capacity)", colorReady, true, nil, 2.5},
	} {
		l, err := plotter.NewLine(series.xys)
		if err != nil {
			return nil, err
		}
		l.Color, l.Dashes, l.Width = series.c, series.dash, vg.Points(float64(series.width))
		if series.step {
			l.StepStyle = plotter.PostStep
		}
		p.Add(l)
		p.Legend.Add(series.label, l)
	}
	p.Y.Min, p.Y.Max = 0, top*1.35
	p.X.Min = 0
	var files []string
	for _, ext := range []string{"png", "svg"} {
		f := filepath.Join(dir, name+"."+ext)
		if err := p.Save(plotW, plotH, f); err != nil {
			return nil, fmt.Errorf("plot %s: %w", f, err)
		}
		files = append(files, f)
	}
	return files, nil
}
