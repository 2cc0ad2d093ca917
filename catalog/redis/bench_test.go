package redis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/dicomjson"
	"github.com/huren-health/huren/internal/testbackend"
)

// benchStudies is the catalog size of BenchmarkSearch100k.
const benchStudies = 100_000

var surnames = [][2]string{{"Wang", "王"}, {"Li", "李"}, {"Zhang", "张"}, {"Liu", "刘"}, {"Chen", "陈"}, {"Yang", "杨"},
	{"Huang", "黄"}, {"Zhao", "赵"}, {"Wu", "吴"}, {"Zhou", "周"}, {"Xu", "徐"}, {"Sun", "孙"}, {"Ma", "马"}, {"Zhu", "朱"},
	{"Hu", "胡"}, {"Guo", "郭"}, {"He", "何"}, {"Lin", "林"}, {"Luo", "罗"}, {"Gao", "高"}, {"Zheng", "郑"}, {"Liang", "梁"},
	{"Xie", "谢"}, {"Song", "宋"}, {"Tang", "唐"}, {"Han", "韩"}, {"Feng", "冯"}, {"Deng", "邓"}, {"Cao", "曹"}, {"Peng", "彭"}}
var givens = [][2]string{{"Wei", "伟"}, {"Fang", "芳"}, {"Na", "娜"}, {"Min", "敏"}, {"Jing", "静"}, {"Li", "丽"},
	{"Qiang", "强"}, {"Lei", "磊"}, {"Jun", "军"}, {"Yang", "洋"}, {"Yong", "勇"}, {"Yan", "艳"}, {"Jie", "杰"},
	{"Juan", "娟"}, {"Tao", "涛"}, {"Ming", "明"}, {"Chao", "超"}, {"Xiuying", "秀英"}, {"Hua", "华"}, {"San", "三"}}

// benchRecord makes the one instance of synthetic study i: 30,000
// patients, dates over 2020–2026, modality mix CT 40 % DX 30 % US 15 %
// MR 10 % MG 5 %, 20 sites.
func benchRecord(r *rand.Rand, i int) catalog.Record {
	patient := r.IntN(30_000)
	pr := rand.New(rand.NewPCG(uint64(patient), 7)) // same name for the same patient
	sn, gn := surnames[pr.IntN(len(surnames))], givens[pr.IntN(len(givens))]
	day := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, r.IntN(2500))
	mod := []string{"CT", "CT", "CT", "CT", "DX", "DX", "DX", "US", "US", "MR", "MG"}[r.IntN(11)]
	if r.IntN(40) == 0 {
		mod = "MG"
	}
	study := fmt.Sprintf("1.2.156.600.%d", i)
	d := dicomjson.Dataset{}
	d.Set(catalog.TagSpecificCharacterSet, "CS", "ISO_IR 192")
	d.Set(catalog.TagPatientName, "PN", dicomjson.PersonName{Alphabetic: sn[0] + "^" + gn[0], Ideographic: sn[1] + "^" + gn[1]})
	d.Set(catalog.TagPatientID, "LO", fmt.Sprintf("HR%07d", patient))
	d.Set(catalog.TagPatientBirthDate, "DA", fmt.Sprintf("19%02d0%d1%d", 30+pr.IntN(70), 1+pr.IntN(9), pr.IntN(10)))
	d.Set(catalog.TagPatientSex, "CS", []string{"M", "F"}[pr.IntN(2)])
	d.Set(catalog.TagStudyDate, "DA", day.Format("20060102"))
	d.Set(catalog.TagStudyTime, "TM", fmt.Sprintf("%02d%02d%02d", 7+r.IntN(12), r.IntN(60), r.IntN(60)))
	d.Set(catalog.TagAccessionNumber, "SH", fmt.Sprintf("ACC%08d", i))
	d.Set(catalog.TagReferringPhysicianName, "PN", dicomjson.PersonName{Alphabetic: "Doctor^" + gn[0]})
	d.Set(catalog.TagStudyDescription, "LO", mod+" routine")
	d.Set(catalog.TagStudyID, "SH", fmt.Sprint(i%10000))
	d.Set("00101010", "AS", "045Y")
	d.Set(catalog.TagModality, "CS", mod)
	d.Set(catalog.TagSeriesNumber, "IS", int64(1))
	d.Set(catalog.TagSeriesDescription, "LO", "series")
	d.Set("00080080", "LO", "Township health centre")
	d.Set("00080070", "LO", "Vendor")
	d.Set(catalog.TagSOPClassUID, "UI", "1.2.840.10008.5.1.4.1.1.2")
	d.Set(catalog.TagInstanceNumber, "IS", int64(1))
	d.Set(catalog.TagRows, "US", int64(512))
	d.Set(catalog.TagColumns, "US", int64(512))
	d.Set(catalog.TagBitsAllocated, "US", int64(16))
	d.Set("00280030", "DS", 0.7, 0.7)
	d.Set("00281050", "DS", 40.0)
	d.Set("00281051", "DS", 400.0)
	return catalog.Record{StudyUID: study, SeriesUID: study + ".1", InstanceUID: study + ".1.1",
		Site: fmt.Sprintf("site%02d", r.IntN(20)), Attrs: d, Size: 526_000, SHA256: "00",
		ObjectKey: "dicom/" + study, MetaKey: "meta/" + study, ReceivedAt: day.Add(10 * time.Hour)}
}

// benchQueries are the QIDO study searches whose latency matters.
var benchQueries = []struct {
	name, query string
	sites       []string
}{
	{"latest101", "limit=101&offset=0&fuzzymatching=false&includefield=00081030,00080060,00080090,00100030", nil},
	{"page11", "limit=101&offset=1010", nil},
	{"patientID", "00100020=HR0012345", nil},
	{"accession", "AccessionNumber=ACC00054321", nil},
	{"dateMonth", "StudyDate=20250301-20250331&limit=101", nil},
	{"modalityMR", "ModalitiesInStudy=MR&limit=101", nil},
	{"modalityMG", "ModalitiesInStudy=MG&limit=101", nil},
	{"nameZhang", "PatientName=Zhang*&limit=101", nil},
	{"name张", "PatientName=张*&limit=101", nil},
	{"nameExact", "PatientName=Zhang^Wei&StudyDate=20240101-&limit=101", nil},
	{"nameInfix", "PatientName=*ing*&limit=101", nil},
	{"site", "limit=101", []string{"site07"}},
	{"siteModality", "ModalitiesInStudy=MG&limit=101", []string{"site07", "site08"}},
}

var benchLoad struct {
	once sync.Once
	red  *Catalog
	err  error
}

// BenchmarkSearch100k loads 100,000 studies into Redis (pipelined Lua
// Puts, once per process) and measures each query type, reporting p50 and
// p99 latency. Set HUREN_BENCH_REDIS_ADDR to use a private server rather
// than the shared test Redis (the data set takes ~300 MB).
func BenchmarkSearch100k(b *testing.B) {
	if testing.Short() {
		b.Skip("loads 100,000 studies")
	}
	addr := os.Getenv("HUREN_BENCH_REDIS_ADDR")
	if addr == "" {
		addr = testbackend.RedisAddr(b)
	}
	ctx := context.Background()
	benchLoad.once.Do(func() {
		rdb := goredis.NewClient(&goredis.Options{Addr: addr})
		c := New(rdb, testbackend.UniqueName("bench:catalog:"), nil)
		c.own = true
		start := time.Now()
		benchLoad.err = loadBench(ctx, c)
		b.Logf("loaded %d studies in %v", benchStudies, time.Since(start).Round(time.Millisecond))
		benchLoad.red = c
	})
	if benchLoad.err != nil {
		b.Fatal(benchLoad.err)
	}
	for _, bq := range benchQueries {
		b.Run(bq.name, func(b *testing.B) {
			v, _ := url.ParseQuery(bq.query)
			q, err := catalog.ParseQuery(catalog.StudyLevel, v)
			if err != nil {
				b.Fatal(err)
			}
			q.Sites = bq.sites
			lat := make([]time.Duration, 0, b.N)
			n := 0
			for b.Loop() {
				t0 := time.Now()
				res, err := benchLoad.red.Search(ctx, q)
				lat = append(lat, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
				n = len(res)
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
			b.ReportMetric(ms(0.5), "p50-ms")
			b.ReportMetric(ms(0.99), "p99-ms")
			b.ReportMetric(float64(n), "results")
		})
	}
}

// loadBench fills c with the benchmark data set, 1,000 pipelined
// EVALSHA per round trip.
func loadBench(ctx context.Context, c *Catalog) error {
	if err := putScript.Load(ctx, c.rdb).Err(); err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(1, 2))
	for start := 0; start < benchStudies; start += 1000 {
		pipe := c.rdb.Pipeline()
		for i := start; i < start+1000 && i < benchStudies; i++ {
			rec, err := catalog.Normalize(benchRecord(r, i))
			if err != nil {
				return err
			}
			keys, args, err := c.putArgs(rec)
			if err != nil {
				return err
			}
			pipe.EvalSha(ctx, putScript.Hash(), keys, args...)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// TestMain removes the benchmark data set after the run.
func TestMain(m *testing.M) {
	code := m.Run()
	if benchLoad.red != nil {
		_ = benchLoad.red.Reset(context.Background())
		_ = benchLoad.red.Close()
	}
	os.Exit(code)
}
