package catalogtest

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/dicomjson"
)

// BenchStudies is the catalog size of the backends' search benchmarks.
const BenchStudies = 100_000

var surnames = [][2]string{{"Wang", "王"}, {"Li", "李"}, {"Zhang", "张"}, {"Liu", "刘"}, {"Chen", "陈"}, {"Yang", "杨"},
	{"Huang", "黄"}, {"Zhao", "赵"}, {"Wu", "吴"}, {"Zhou", "周"}, {"Xu", "徐"}, {"Sun", "孙"}, {"Ma", "马"}, {"Zhu", "朱"},
	{"Hu", "胡"}, {"Guo", "郭"}, {"He", "何"}, {"Lin", "林"}, {"Luo", "罗"}, {"Gao", "高"}, {"Zheng", "郑"}, {"Liang", "梁"},
	{"Xie", "谢"}, {"Song", "宋"}, {"Tang", "唐"}, {"Han", "韩"}, {"Feng", "冯"}, {"Deng", "邓"}, {"Cao", "曹"}, {"Peng", "彭"}}
var givens = [][2]string{{"Wei", "伟"}, {"Fang", "芳"}, {"Na", "娜"}, {"Min", "敏"}, {"Jing", "静"}, {"Li", "丽"},
	{"Qiang", "强"}, {"Lei", "磊"}, {"Jun", "军"}, {"Yang", "洋"}, {"Yong", "勇"}, {"Yan", "艳"}, {"Jie", "杰"},
	{"Juan", "娟"}, {"Tao", "涛"}, {"Ming", "明"}, {"Chao", "超"}, {"Xiuying", "秀英"}, {"Hua", "华"}, {"San", "三"}}

// BenchRecord makes the one instance of synthetic study i: 30,000
// patients, dates over 2020–2026, modality mix CT 40 % DX 30 % US 15 %
// MR 10 % MG 5 %, 20 sites.
func BenchRecord(r *rand.Rand, i int) catalog.Record {
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

// BenchQueries are the QIDO study searches whose latency matters.
var BenchQueries = []struct {
	Name, Query string
	Sites       []string
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
