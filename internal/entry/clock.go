package entry

import "time"

// ClockStep is the unit in which a sender's clock skew is corrected. A
// retried request is stamped again (sent_at is the clock at each attempt),
// so its measured skew differs from the first attempt's by the change in
// network latency; whole steps make both attempts' corrected timestamps
// equal, and Loki stores a resent entry once. Skews under half a step
// (normal clocks plus latency) are not corrected at all.
const ClockStep = 10 * time.Second

// Skew outcomes, per request that carried sent_at.
const (
	SkewNone        = "none"        // within half a step: timestamps kept
	SkewCorrected   = "corrected"   // the events' timestamps move by the offset
	SkewImplausible = "implausible" // more than max: sent_at ignored
)

// ClockOffset is how far behind the receiver's clock a sender's clock runs,
// measured as received − sentAt (network latency included) and rounded to
// whole ClockSteps; add it to the sender's timestamps. Like Segment's
// sentAt, this puts events from a slow or fast clock at the true time while
// an event queued offline keeps its own (corrected) time. A skew beyond max
// (or any, when max is 0) is not trusted and gives 0.
func ClockOffset(sentAt, received time.Time, max time.Duration) (time.Duration, string) {
	if sentAt.IsZero() {
		return 0, ""
	}
	skew := received.Sub(sentAt)
	if max <= 0 || skew > max || skew < -max {
		return 0, SkewImplausible
	}
	offset := skew.Round(ClockStep)
	if offset == 0 {
		return 0, SkewNone
	}
	return offset, SkewCorrected
}
