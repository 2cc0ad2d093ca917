// Package ecg is Huren's electrocardiogram model: one Record type that every
// reader (DICOM waveform, HL7 aECG, SCP-ECG, MIT/WFDB) produces and that the
// analysis, rule and rendering packages consume.
//
// Sub-packages, each named for what it provides:
//
//	ecg/dicomwave, ecg/aecg, ecg/scp, ecg/wfdb  readers of untrusted bytes
//	ecg/read      format sniffing and dispatch to the readers
//	ecg/dsp       filters (baseline wander, mains notch, low-pass) and lead derivation
//	ecg/qrs       QRS detection and EC57-style scoring
//	ecg/measure   signal quality, median beat, intervals, axis, ST, rhythm
//	ecg/rules     versioned critical-value (危急值) rule tables
//	ecg/analysis  the whole pipeline: Record -> Analysis
//	ecg/render    the 12-lead paper layout as SVG and PNG
//	ecg/ecgcli    `huren ecg analyze`
//	ecg/web       POST /api/ecg ingest, GET /api/ecg/:id
//
// Concurrency: a Record is a plain value; readers return a fresh Record and
// never retain the input. Nothing in these packages holds global mutable
// state, so distinct Records may be processed concurrently; a single Record
// must not be mutated while another goroutine reads it.
//
// Non-goals: writing ECG files, pacemaker spike analysis, paediatric criteria.
package ecg
