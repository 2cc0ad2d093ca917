package catalog

import "strings"

// Tags of the attributes the catalog itself computes or orders by.
const (
	TagSpecificCharacterSet           = "00080005"
	TagStudyDate                      = "00080020"
	TagStudyTime                      = "00080030"
	TagAccessionNumber                = "00080050"
	TagInstanceAvailability           = "00080056"
	TagModality                       = "00080060"
	TagModalitiesInStudy              = "00080061"
	TagReferringPhysicianName         = "00080090"
	TagTimezoneOffsetFromUTC          = "00080201"
	TagSOPClassUID                    = "00080016"
	TagSOPInstanceUID                 = "00080018"
	TagStudyDescription               = "00081030"
	TagSeriesDescription              = "0008103E"
	TagPatientName                    = "00100010"
	TagPatientID                      = "00100020"
	TagPatientBirthDate               = "00100030"
	TagPatientSex                     = "00100040"
	TagStudyInstanceUID               = "0020000D"
	TagSeriesInstanceUID              = "0020000E"
	TagStudyID                        = "00200010"
	TagSeriesNumber                   = "00200011"
	TagInstanceNumber                 = "00200013"
	TagNumberOfStudyRelatedSeries     = "00201206"
	TagNumberOfStudyRelatedInstances  = "00201208"
	TagNumberOfSeriesRelatedInstances = "00201209"
	TagNumberOfFrames                 = "00280008"
	TagRows                           = "00280010"
	TagColumns                        = "00280011"
	TagBitsAllocated                  = "00280100"
	TagPPSStartDate                   = "00400244"
	TagPPSStartTime                   = "00400245"
)

// levelMask says at which QIDO levels an attribute lives. Patient attributes
// count as study level (Study Root information model).
type levelMask uint8

const (
	atStudy levelMask = 1 << iota
	atSeries
	atInstance
	atAll = atStudy | atSeries | atInstance
)

type attrInfo struct {
	keyword string
	vr      string
	level   levelMask
}

// attrs is the dictionary of attributes the catalog knows by keyword and
// level. An attribute missing here is still stored, matched and returned at
// the instance level when addressed by its 8-hex tag; it is not a study- or
// series-level attribute.
var attrs = map[string]attrInfo{
	// Every level (SOP Common module, repeated in summaries).
	TagSpecificCharacterSet:  {"SpecificCharacterSet", "CS", atAll},
	TagTimezoneOffsetFromUTC: {"TimezoneOffsetFromUTC", "SH", atAll},
	// Patient module (study level in the Study Root model).
	TagPatientName:      {"PatientName", "PN", atStudy},
	TagPatientID:        {"PatientID", "LO", atStudy},
	"00100021":          {"IssuerOfPatientID", "LO", atStudy},
	TagPatientBirthDate: {"PatientBirthDate", "DA", atStudy},
	"00100032":          {"PatientBirthTime", "TM", atStudy},
	TagPatientSex:       {"PatientSex", "CS", atStudy},
	"00101000":          {"OtherPatientIDs", "LO", atStudy},
	"00101001":          {"OtherPatientNames", "PN", atStudy},
	"00101010":          {"PatientAge", "AS", atStudy},
	"00101020":          {"PatientSize", "DS", atStudy},
	"00101030":          {"PatientWeight", "DS", atStudy},
	"00101040":          {"PatientAddress", "LO", atStudy},
	"00102154":          {"PatientTelephoneNumbers", "SH", atStudy},
	"00102160":          {"EthnicGroup", "SH", atStudy},
	"00102180":          {"Occupation", "SH", atStudy},
	"001021B0":          {"AdditionalPatientHistory", "LT", atStudy},
	"00104000":          {"PatientComments", "LT", atStudy},
	// General Study / Patient Study modules.
	TagStudyInstanceUID:              {"StudyInstanceUID", "UI", atStudy},
	TagStudyDate:                     {"StudyDate", "DA", atStudy},
	TagStudyTime:                     {"StudyTime", "TM", atStudy},
	TagAccessionNumber:               {"AccessionNumber", "SH", atStudy},
	TagReferringPhysicianName:        {"ReferringPhysicianName", "PN", atStudy},
	TagStudyDescription:              {"StudyDescription", "LO", atStudy},
	TagStudyID:                       {"StudyID", "SH", atStudy},
	"00081048":                       {"PhysiciansOfRecord", "PN", atStudy},
	"00081060":                       {"NameOfPhysiciansReadingStudy", "PN", atStudy},
	"00081080":                       {"AdmittingDiagnosesDescription", "LO", atStudy},
	"00321032":                       {"RequestingPhysician", "PN", atStudy},
	"00321033":                       {"RequestingService", "LO", atStudy},
	"00321060":                       {"RequestedProcedureDescription", "LO", atStudy},
	"00401001":                       {"RequestedProcedureID", "SH", atStudy},
	"00380010":                       {"AdmissionID", "LO", atStudy},
	TagModalitiesInStudy:             {"ModalitiesInStudy", "CS", atStudy},
	TagNumberOfStudyRelatedSeries:    {"NumberOfStudyRelatedSeries", "IS", atStudy},
	TagNumberOfStudyRelatedInstances: {"NumberOfStudyRelatedInstances", "IS", atStudy},
	// General Series / General Equipment / Performed Procedure Step.
	TagModality:                       {"Modality", "CS", atSeries},
	TagSeriesDescription:              {"SeriesDescription", "LO", atSeries},
	TagSeriesNumber:                   {"SeriesNumber", "IS", atSeries},
	TagSeriesInstanceUID:              {"SeriesInstanceUID", "UI", atSeries},
	TagNumberOfSeriesRelatedInstances: {"NumberOfSeriesRelatedInstances", "IS", atSeries},
	TagPPSStartDate:                   {"PerformedProcedureStepStartDate", "DA", atSeries},
	TagPPSStartTime:                   {"PerformedProcedureStepStartTime", "TM", atSeries},
	"00400253":                        {"PerformedProcedureStepID", "SH", atSeries},
	"00400275":                        {"RequestAttributesSequence", "SQ", atSeries},
	"00400254":                        {"PerformedProcedureStepDescription", "LO", atSeries},
	"00080021":                        {"SeriesDate", "DA", atSeries},
	"00080031":                        {"SeriesTime", "TM", atSeries},
	"00180015":                        {"BodyPartExamined", "CS", atSeries},
	"00181030":                        {"ProtocolName", "LO", atSeries},
	"00185100":                        {"PatientPosition", "CS", atSeries},
	"00200060":                        {"Laterality", "CS", atSeries},
	"00200052":                        {"FrameOfReferenceUID", "UI", atSeries},
	"00080070":                        {"Manufacturer", "LO", atSeries},
	"00080080":                        {"InstitutionName", "LO", atSeries},
	"00081010":                        {"StationName", "SH", atSeries},
	"00081040":                        {"InstitutionalDepartmentName", "LO", atSeries},
	"00081050":                        {"PerformingPhysicianName", "PN", atSeries},
	"00081070":                        {"OperatorsName", "PN", atSeries},
	"00081090":                        {"ManufacturerModelName", "LO", atSeries},
	// Instance level (SOP Common, General Image, Image Pixel, …).
	TagSOPClassUID:          {"SOPClassUID", "UI", atInstance},
	TagSOPInstanceUID:       {"SOPInstanceUID", "UI", atInstance},
	TagInstanceAvailability: {"InstanceAvailability", "CS", atStudy | atInstance},
	TagInstanceNumber:       {"InstanceNumber", "IS", atInstance},
	TagRows:                 {"Rows", "US", atInstance},
	TagColumns:              {"Columns", "US", atInstance},
	TagBitsAllocated:        {"BitsAllocated", "US", atInstance},
	TagNumberOfFrames:       {"NumberOfFrames", "IS", atInstance},
	"00080008":              {"ImageType", "CS", atInstance},
	"00080012":              {"InstanceCreationDate", "DA", atInstance},
	"00080013":              {"InstanceCreationTime", "TM", atInstance},
	"00080022":              {"AcquisitionDate", "DA", atInstance},
	"00080023":              {"ContentDate", "DA", atInstance},
	"00080032":              {"AcquisitionTime", "TM", atInstance},
	"00080033":              {"ContentTime", "TM", atInstance},
	"0008002A":              {"AcquisitionDateTime", "DT", atInstance},
	"00200012":              {"AcquisitionNumber", "IS", atInstance},
	"00200020":              {"PatientOrientation", "CS", atInstance},
	"00200032":              {"ImagePositionPatient", "DS", atInstance},
	"00200037":              {"ImageOrientationPatient", "DS", atInstance},
	"00201041":              {"SliceLocation", "DS", atInstance},
	"00180050":              {"SliceThickness", "DS", atInstance},
	"00280002":              {"SamplesPerPixel", "US", atInstance},
	"00280004":              {"PhotometricInterpretation", "CS", atInstance},
	"00280030":              {"PixelSpacing", "DS", atInstance},
	"00280101":              {"BitsStored", "US", atInstance},
	"00280102":              {"HighBit", "US", atInstance},
	"00280103":              {"PixelRepresentation", "US", atInstance},
	"00281050":              {"WindowCenter", "DS", atInstance},
	"00281051":              {"WindowWidth", "DS", atInstance},
	"00281052":              {"RescaleIntercept", "DS", atInstance},
	"00281053":              {"RescaleSlope", "DS", atInstance},
	"0040A491":              {"CompletionFlag", "CS", atInstance},
	"0040A493":              {"VerificationFlag", "CS", atInstance},
	"00420010":              {"DocumentTitle", "ST", atInstance},
	"003A0005":              {"NumberOfWaveformChannels", "US", atInstance},
	"003A0010":              {"NumberOfWaveformSamples", "UL", atInstance},
	"003A001A":              {"SamplingFrequency", "DS", atInstance},
}

var keywordTags = func() map[string]string {
	m := make(map[string]string, len(attrs))
	for tag, a := range attrs {
		m[a.keyword] = tag
	}
	return m
}()

// TagForKeyword returns the 8-hex tag of a DICOM keyword the catalog knows
// ("PatientID" → "00100020").
func TagForKeyword(keyword string) (string, bool) {
	t, ok := keywordTags[keyword]
	return t, ok
}

// KeywordForTag returns the keyword of a tag the catalog knows, or "".
func KeywordForTag(tag string) string { return attrs[tag].keyword }

// levelOf classifies a tag. Unknown tags are instance-level.
func levelOf(tag string) levelMask {
	if a, ok := attrs[tag]; ok {
		return a.level
	}
	return atInstance
}

// vrOf returns the dictionary VR of tag, or "" when the catalog does not
// know it (the stored element's VR is used then).
func vrOf(tag string) string { return attrs[tag].vr }

// IsTag reports whether s is an 8-digit hex tag.
func IsTag(s string) bool {
	if len(s) != 8 {
		return false
	}
	for i := 0; i < 8; i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// normTag resolves a keyword or 8-hex tag to the uppercase tag.
func normTag(s string) (string, bool) {
	if IsTag(s) {
		return strings.ToUpper(s), true
	}
	return TagForKeyword(s)
}

// Required return attributes per level (PS3.18 2023 tables 10.6.3-3, -4, -5).
var (
	requiredStudy = []string{
		TagSpecificCharacterSet, TagStudyDate, TagStudyTime, TagAccessionNumber,
		TagInstanceAvailability, TagModalitiesInStudy, TagReferringPhysicianName,
		TagTimezoneOffsetFromUTC, TagPatientName, TagPatientID, TagPatientBirthDate,
		TagPatientSex, TagStudyInstanceUID, TagStudyID, TagNumberOfStudyRelatedSeries,
		TagNumberOfStudyRelatedInstances, TagStudyDescription,
	}
	requiredSeries = []string{
		TagSpecificCharacterSet, TagModality, TagTimezoneOffsetFromUTC, TagSeriesDescription,
		TagSeriesNumber, TagSeriesInstanceUID, TagNumberOfSeriesRelatedInstances,
		TagPPSStartDate, TagPPSStartTime, "00400275", TagStudyInstanceUID,
	}
	requiredInstance = []string{
		TagSpecificCharacterSet, TagSOPClassUID, TagSOPInstanceUID, TagInstanceAvailability,
		TagTimezoneOffsetFromUTC, TagInstanceNumber, TagRows, TagColumns, TagBitsAllocated,
		TagNumberOfFrames, TagStudyInstanceUID, TagSeriesInstanceUID,
	}
)
