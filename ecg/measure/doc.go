// Package measure turns filtered leads and QRS positions into what a
// cardiologist's machine reports: signal quality per lead, RR statistics, a
// median (representative) beat per lead, P/QRS/T onsets and offsets, PR,
// QRS, QT, QTc (Bazett, Fridericia), frontal axes, ST deviation at J and
// J+60 ms per lead, and rhythm labels that follow from those numbers.
//
// All functions are pure and safe for concurrent use.
package measure
