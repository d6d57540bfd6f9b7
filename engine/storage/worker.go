package storage

import (
	"context"
	"time"
)

// Back-off between attempts while the server does not answer: from half a
// second (a restarting gateway is back within that) doubling to 5 s, so the
// queue drains at most 5 s after the server returns, at the cost of one
// request per 5 s during a long outage. No jitter: one uploader per output
// and a handful per machine do not stampede a server.
const (
	firstBackoff = 500 * time.Millisecond
	maxBackoff   = 5 * time.Second
)

// backoff is the wait after the n-th consecutive failed attempt (n >= 1).
func backoff(n int) time.Duration {
	d := firstBackoff
	for i := 1; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// loop uploads the queue, one put at a time and in order (ordering is the
// contract: a playlist after its segments, a newer playlist after an older).
func (u *Uploader) loop() {
	defer close(u.done)
	for {
		it := u.next()
		if it == nil {
			return
		}
		u.upload(it)
		u.mu.Lock()
		u.busy = nil
		u.mu.Unlock()
	}
}

func (u *Uploader) next() *item {
	for {
		u.mu.Lock()
		if u.closed {
			u.mu.Unlock()
			return nil
		}
		if len(u.queue) > 0 {
			it := u.queue[0]
			u.queue = u.queue[1:]
			u.busy = it
			u.mu.Unlock()
			return it
		}
		u.mu.Unlock()
		select {
		case <-u.kick:
		case <-u.life.Done():
			return nil
		}
	}
}

// upload tries it until it is settled: uploaded, refused for good, or given
// up (by the RetryFor rule here, or by Flush's context or Close elsewhere).
func (u *Uploader) upload(it *item) {
	for {
		u.mu.Lock()
		if it.settled || u.closed {
			u.mu.Unlock()
			return
		}
		ctx, cancel := context.WithCancel(u.life)
		u.cancelBusy = cancel
		it.attempts++
		began := u.clock.Now()
		u.mu.Unlock()

		err := u.send(ctx, it)
		cancel()

		u.mu.Lock()
		u.cancelBusy = nil
		if it.settled { // given up meanwhile: what was reported stands
			u.mu.Unlock()
			return
		}
		if err == nil {
			r := u.settleUploadedLocked(it)
			u.serverAnsweredLocked()
			u.mu.Unlock()
			u.report(r)
			return
		}
		e := u.explain(it.key, err)
		if e.Permanent {
			u.serverAnsweredLocked()
			r := u.settleBackupLocked(it, e)
			u.mu.Unlock()
			u.opts.Logf("storage: %v", e)
			u.report(r)
			return
		}
		wait, giveUp := u.retryLocked(it, began, e)
		if giveUp {
			rs := u.giveUpLocked(it, e)
			u.mu.Unlock()
			u.opts.Logf("storage: %s did not answer for %s (%s): %d files kept on local disk", u, u.opts.RetryFor, e.Reason, len(rs))
			for _, r := range rs {
				u.report(r)
			}
			return
		}
		u.mu.Unlock()

		select {
		case <-u.clock.After(wait):
		case <-u.nudge:
		case <-u.life.Done():
			return
		}
	}
}

// retryLocked notes a transient failure of the attempt that began at
// began, and says how long to wait before the next attempt, or that Flush's
// patience (RetryFor since the outage began) is over. The outage began when
// the first request that got no answer was sent.
func (u *Uploader) retryLocked(it *item, began time.Time, e *Error) (time.Duration, bool) {
	now := u.clock.Now()
	if u.outageSince.IsZero() {
		u.outageSince = began
		u.opts.Logf("storage: %s does not answer (%s); keeping %d files on local disk and retrying", u, e.Reason, len(u.queue)+1)
	}
	left := u.outageSince.Add(u.opts.RetryFor).Sub(now)
	if u.flushing > 0 && left <= 0 {
		return 0, true
	}
	wait := backoff(it.attempts)
	if u.flushing > 0 {
		wait = min(wait, left) // the last try falls on the deadline
	}
	return wait, false
}

func (u *Uploader) serverAnsweredLocked() {
	if !u.outageSince.IsZero() {
		u.opts.Logf("storage: %s answers again after %s; %d files waiting", u, u.clock.Now().Sub(u.outageSince).Round(time.Millisecond), len(u.queue))
		u.outageSince = time.Time{}
	}
}

// giveUpLocked settles it and everything waiting behind it as backups: the
// server has been gone for RetryFor while Flush waits.
func (u *Uploader) giveUpLocked(it *item, e *Error) []Result {
	q := append([]*item{it}, u.queue...)
	u.queue = nil
	rs := make([]Result, 0, len(q))
	for _, x := range q {
		xe := *e
		xe.Key = x.key
		xe.Reason = e.Reason + "; gave up after " + u.opts.RetryFor.String() + ", kept on local disk"
		rs = append(rs, u.settleBackupLocked(x, &xe))
	}
	return rs
}

func (u *Uploader) report(r Result) {
	if u.opts.OnResult != nil {
		u.opts.OnResult(r)
	}
}
