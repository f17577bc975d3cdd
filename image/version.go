package image

// FormatVersion is the image format version this package writes and the only
// one it reads (docs/FORMAT.md). Exported so the commands' --version reports
// the number the code actually uses, not a copy that could go stale.
const FormatVersion = formatVersion
