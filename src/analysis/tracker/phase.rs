//! The phase clock: the match clock (Σ frame deltas), where the game is in its cycle —
//! countdown, waiting for the kickoff touch, live play, post-goal — and overtime.
//!
//! Invariants:
//! - the clock only moves forward, by each frame's delta (negative deltas count as 0);
//! - match time is measured from the first "GO" (state Active after a countdown), 0 before it;
//! - after "GO" the phase stays `KickoffWaiting` until the server's ball-hit flag is set, whatever
//!   the flag said before the countdown.

/// Where the game is in its cycle; each frame's counted time goes to exactly one phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Countdown,
    KickoffWaiting,
    Active,
    PostGoal,
}

impl Phase {
    /// Index into per-phase arrays (countdown, kickoff waiting, active, post-goal).
    pub fn index(self) -> usize {
        match self {
            Phase::Countdown => 0,
            Phase::KickoffWaiting => 1,
            Phase::Active => 2,
            Phase::PostGoal => 3,
        }
    }
}

/// What a state change started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    None,
    /// A kickoff countdown began: boost resets, nobody has the ball.
    Countdown,
    /// "GO": a kickoff starts now.
    Go,
}

pub struct PhaseClock {
    pub phase: Phase,
    /// Σ frame delta up to the current frame.
    pub clock: f64,
    pub first_kickoff_clock: Option<f64>,
    pub overtime: bool,
    pub overtime_start_clock: Option<f64>,
    ball_has_been_hit: bool,
}

impl PhaseClock {
    pub fn new() -> Self {
        PhaseClock {
            phase: Phase::Active,
            clock: 0.0,
            first_kickoff_clock: None,
            overtime: false,
            overtime_start_clock: None,
            ball_has_been_hit: true,
        }
    }

    pub fn advance(&mut self, delta: f64) {
        self.clock += delta;
    }

    /// Match time of the current frame, from the first kickoff.
    pub fn match_t(&self) -> f64 {
        (self.clock - self.first_kickoff_clock.unwrap_or(0.0)).max(0.0)
    }

    /// The game event's replicated state name.
    pub fn set_state(&mut self, name: &str) -> Transition {
        let next = match name {
            "Countdown" => Phase::Countdown,
            "Active" => {
                if self.ball_has_been_hit {
                    Phase::Active
                } else {
                    Phase::KickoffWaiting
                }
            }
            "PostGoalScored" => Phase::PostGoal,
            _ => self.phase,
        };
        if name == "Active" && self.phase == Phase::Countdown {
            // "GO". The ball has not been hit yet whatever the flag says.
            self.ball_has_been_hit = false;
            if self.first_kickoff_clock.is_none() {
                self.first_kickoff_clock = Some(self.clock);
            }
            self.phase = Phase::KickoffWaiting;
            return Transition::Go;
        }
        let countdown = next == Phase::Countdown && self.phase != Phase::Countdown;
        self.phase = next;
        if countdown {
            Transition::Countdown
        } else {
            Transition::None
        }
    }

    /// The server's ball-hit flag: set after a kickoff touch, it starts live play.
    pub fn ball_has_been_hit(&mut self, hit: bool) {
        self.ball_has_been_hit = hit;
        if self.phase == Phase::KickoffWaiting && hit {
            self.phase = Phase::Active;
        }
    }

    pub fn start_overtime(&mut self) {
        if !self.overtime {
            self.overtime = true;
            self.overtime_start_clock = Some(self.clock);
        }
    }

    /// Seconds played in overtime.
    pub fn overtime_seconds(&self) -> f64 {
        self.overtime_start_clock
            .map(|s| (self.clock - s).max(0.0))
            .unwrap_or(0.0)
    }
}
