//! The series sampler: each player's boost and speed at [`field::SERIES_HZ`] for the charts.
//!
//! Invariants: sampling starts at the first kickoff; every row has one value per sample time
//! (−1 while the player has no car or had not joined yet).

use crate::analysis::field;
use crate::analysis::stats::CarView;

#[derive(Default)]
pub struct SeriesSampler {
    pub t: Vec<f32>,
    /// Per player, boost 0–100.
    pub boost: Vec<Vec<f32>>,
    /// Per player, speed in uu/s.
    pub speed: Vec<Vec<f32>>,
    next_sample: f64,
}

impl SeriesSampler {
    /// Samples at match time `t` when a sample is due.
    pub fn sample(&mut self, t: f64, cars: &[Option<CarView>]) {
        if t < self.next_sample {
            return;
        }
        self.next_sample = t + 1.0 / field::SERIES_HZ;
        self.t.push(t as f32);
        while self.boost.len() < cars.len() {
            self.boost.push(vec![-1.0; self.t.len() - 1]);
            self.speed.push(vec![-1.0; self.t.len() - 1]);
        }
        for (p, car) in cars.iter().enumerate() {
            let (b, s) = match car {
                Some(v) => (field::raw_to_pct(v.boost_estimate_raw) as f32, v.vel.len()),
                None => (-1.0, -1.0),
            };
            self.boost[p].push(b);
            self.speed[p].push(s);
        }
    }
}
