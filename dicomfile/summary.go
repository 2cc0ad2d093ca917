package dicomfile

// fillSummary copies the identifying UIDs out of the dataset.
func (p *parser) fillSummary() {
	ds := p.f.Dataset
	p.f.SOPClassUID = ds.String("00080016")
	p.f.SOPInstanceUID = ds.String("00080018")
	p.f.StudyInstanceUID = ds.String("0020000D")
	p.f.SeriesInstanceUID = ds.String("0020000E")
}
