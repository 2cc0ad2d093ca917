// Package jpeg decodes the DICOM JPEG family of ISO/IEC 10918-1:
//
//   - Baseline decodes JPEG Baseline (Process 1) 8-bit with the standard
//     library's image/jpeg, then applies the YCbCr→RGB transform only when
//     the dataset's Photometric Interpretation says the data is YBR, so RGB
//     JPEGs written without a colour transform come out unchanged.
//   - Lossless is a hand-written decoder of the lossless process (Process
//     14, any of predictors 1–7, including SV1), 2–16 bit precision, one or
//     more components, interleaved or not, with restart intervals. No Go
//     module provides one and the standard library refuses SOF3.
//   - Extended decodes JPEG Extended (Process 2 & 4) 8- and 12-bit sequential
//     Huffman DCT, hand-written, since image/jpeg refuses 12-bit precision.
//
// All decoders are fuzzed, check the codestream's dimensions and component
// count against the DICOM header before allocating, and are stateless and
// safe for concurrent use.
package jpeg
