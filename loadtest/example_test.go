package loadtest_test

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/cirkelline/infra/loadtest"
)

func ExampleBuildOptions() {
	shape := loadtest.Shapes[loadtest.Smoke]
	opts, _ := loadtest.BuildOptions(shape, loadtest.Thresholds{"http_req_failed": {"rate<0.01"}}, nil).JSON()
	var compact bytes.Buffer
	_ = json.Compact(&compact, opts)
	fmt.Println(compact.String())
	// Output:
	// {"scenarios":{"smoke":{"executor":"ramping-vus","startVUs":1,"stages":[{"duration":"1m","target":1}],"gracefulRampDown":"30s"}},"thresholds":{"http_req_failed":["rate<0.01"]},"summaryTrendStats":["avg","min","med","max","p(90)","p(95)","p(99)","count"]}
}

func ExampleSegments() {
	segs := loadtest.Segments(4)
	fmt.Println(loadtest.Sequence(segs))
	for _, s := range segs {
		fmt.Println(s.Index, s, loadtest.ScaleVUs(10000, s))
	}
	// Output:
	// 0,1/4,1/2,3/4,1
	// 0 0:1/4 2500
	// 1 1/4:1/2 2500
	// 2 1/2:3/4 2500
	// 3 3/4:1 2500
}

func ExampleCapacity_Table() {
	c := loadtest.DefaultCapacity()
	v, judged := c.Judge(loadtest.Shapes[loadtest.MillionUsers], "cirkelline-backend", 50)
	fmt.Print(c.Table(v))
	_, spikeJudged := c.Judge(loadtest.Shapes[loadtest.Spike], "cirkelline-backend", 50)
	fmt.Println(judged, spikeJudged)
	// Output:
	// registered users            1000000
	// concurrent at peak          10000 (1.0 %)
	// request interval            30 s
	// peak                        333 req/s
	// per pod                     25 req/s
	// pods needed                 14
	// cirkelline-backend HPA max  50 (ok for million-users (14 pods needed))
	// true false
}
