// Package ohif serves a prebuilt OHIF v3 viewer (the reference DICOMweb
// viewer, npm @ohif/app) against a Huren hub, and holds the end-to-end smoke
// test proving that OHIF lists and displays a study stored in Huren.
//
// Huren does not bundle OHIF: scripts/ohif-smoke fetches the prebuilt dist/
// with npm, and Handler serves it with a generated app-config.js (AppConfig)
// that points OHIF's DICOMweb data source at the hub. The viewer is a
// single-page application, so Handler answers unknown routes such as
// /viewer?StudyInstanceUIDs=… with index.html.
//
// The browser test (TestOHIFOpensStudy) needs a running hub, the served
// viewer and Debian's chromium; it skips unless HUREN_OHIF_URL and
// HUREN_OHIF_STUDY are set, so the default `go test ./...` needs neither
// network nor npm.
//
// Concurrency: Handler is safe for concurrent use; it only reads the fs.FS
// and the immutable app-config bytes it was built with.
package ohif
