// Package measure turns filtered leads and QRS positions into what a
// cardiologist's machine reports: signal quality per lead, RR statistics, a
// median (representative) beat per lead, global P/QRS/T onsets and offsets,
// PR, QRS, QT, QTc (Bazett, Fridericia), frontal axes, ST deviation at J,
// J+40, J+60 and J+80 ms per lead with the QRS polarity and ST shape the
// STEMI safeguards need, and rhythm labels that follow from those numbers.
//
// A value that cannot be measured reliably is absent, never guessed: QT in
// particular carries the reason it is "not measurable" (flat T, leads or
// T-end locators disagreeing, atrial fibrillation). The delineation
// constants were tuned on half of LUDB and are scored on the other half by
// ecg/eval (bench/ECG_RESULTS_DELINEATION.md).
//
// All functions are pure and safe for concurrent use.
package measure
