//! Discrete events collected during the frame pass and turned into stats afterwards: boost pad
//! pickups (pad size is only known once every pickup of a pad has voted), touches with passes,
//! turnovers and 50/50 challenges (STATS.md §3, §6, §7).

use super::field::{self, PadSize, Vec3};
use crate::report::{Boost, Challenges, Touches};

#[derive(Debug, Clone)]
pub struct Pickup {
    pub player: usize,
    pub team: u8,
    /// Index of the pad's object in the replay's object table (stable across actor re-creation).
    pub pad_object: usize,
    pub boost_before_raw: f32,
    pub car_pos: Vec3,
}

/// Resolves each pad object to a Soccar pad by majority vote of the car positions at its pickups.
pub fn resolve_pads(pickups: &[Pickup]) -> std::collections::HashMap<usize, usize> {
    let mut votes: std::collections::HashMap<usize, Vec<u32>> = Default::default();
    for p in pickups {
        if let Some(pad) = field::nearest_pad(p.car_pos) {
            votes
                .entry(p.pad_object)
                .or_insert_with(|| vec![0; field::soccar_pads().len()])[pad] += 1;
        }
    }
    votes
        .into_iter()
        .filter_map(|(obj, v)| {
            let (best, n) = v.iter().enumerate().max_by_key(|(_, n)| **n)?;
            (*n > 0).then_some((obj, best))
        })
        .collect()
}

#[derive(Debug, Default, Clone)]
pub struct PickupTotals {
    pub collected: [f64; 2],
    pub count: [u32; 2],
    pub stolen: [f64; 2],
    pub stolen_count: [u32; 2],
    pub overfill: f64,
    pub overfill_stolen: f64,
}

/// Sums pickups per player (index = player). Amounts in raw units (0–255 scale).
pub fn pickup_totals(pickups: &[Pickup], players: usize) -> Vec<PickupTotals> {
    let pads = resolve_pads(pickups);
    let table = field::soccar_pads();
    let mut out = vec![PickupTotals::default(); players];
    for p in pickups {
        let Some(&pad_idx) = pads.get(&p.pad_object) else {
            continue;
        };
        let pad = &table[pad_idx];
        let (nominal, k) = match pad.size {
            PadSize::Big => (field::BIG_PAD_RAW, 0),
            PadSize::Small => (field::SMALL_PAD_RAW, 1),
        };
        let before = p.boost_before_raw.clamp(0.0, 255.0);
        let collected = f64::from(nominal.min(255.0 - before));
        let overfill = f64::from(nominal) - collected;
        // Stolen: the pad lies in the opponent half (normalized y > 128, so centre pads never count).
        let stolen = field::normalized_y(pad.y, p.team) > 128.0;
        let Some(t) = out.get_mut(p.player) else {
            continue;
        };
        t.collected[k] += collected;
        t.count[k] += 1;
        t.overfill += overfill;
        if stolen {
            t.stolen[k] += collected;
            t.stolen_count[k] += 1;
            t.overfill_stolen += overfill;
        }
    }
    out
}

pub fn boost_report(
    totals: &PickupTotals,
    avg_pct: f64,
    times: (f64, f64, [f64; 4]),
    used_supersonic_raw: f64,
    counted_time: f64,
    active_time: f64,
) -> Boost {
    let to_pct = |raw: f64| raw * 100.0 / 255.0;
    let collected = to_pct(totals.collected[0] + totals.collected[1]);
    let (zero, full, bands) = times;
    let share = |v: f64| {
        if counted_time > 0.0 {
            v * 100.0 / counted_time
        } else {
            0.0
        }
    };
    Boost {
        bpm: if active_time > 0.0 {
            collected * 60.0 / active_time
        } else {
            0.0
        },
        avg_amount: avg_pct,
        amount_collected: collected,
        amount_collected_big: to_pct(totals.collected[0]),
        amount_collected_small: to_pct(totals.collected[1]),
        count_collected_big: totals.count[0],
        count_collected_small: totals.count[1],
        amount_stolen: to_pct(totals.stolen[0] + totals.stolen[1]),
        amount_stolen_big: to_pct(totals.stolen[0]),
        amount_stolen_small: to_pct(totals.stolen[1]),
        count_stolen_big: totals.stolen_count[0],
        count_stolen_small: totals.stolen_count[1],
        amount_overfill: to_pct(totals.overfill),
        amount_overfill_stolen: to_pct(totals.overfill_stolen),
        amount_used_while_supersonic: to_pct(used_supersonic_raw),
        time_zero_boost: zero,
        percent_zero_boost: share(zero),
        time_full_boost: full,
        percent_full_boost: share(full),
        time_boost_0_25: bands[0],
        time_boost_25_50: bands[1],
        time_boost_50_75: bands[2],
        time_boost_75_100: bands[3],
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Touch {
    pub t: f64,
    pub frame: usize,
    pub player: usize,
    pub team: u8,
    pub ball_pos: Vec3,
    pub ball_speed_after: f32,
    pub ball_dv: f32,
    pub car_pos: Vec3,
}

pub const PASS_WINDOW_S: f64 = 2.0;
pub const PASS_MIN_PROGRESS: f32 = 200.0;
pub const CHALLENGE_WINDOW_S: f64 = 1.2;
pub const CHALLENGE_NEUTRAL_S: f64 = 0.25;

/// Touch counts, passes, turnovers and challenges per player.
pub fn touch_stats(touches: &[Touch], players: usize) -> (Vec<Touches>, Vec<Challenges>) {
    let mut tstats = vec![Touches::default(); players];
    let mut speed_sum = vec![0.0f64; players];
    let mut cstats = vec![Challenges::default(); players];
    for (i, t) in touches.iter().enumerate() {
        let Some(s) = tstats.get_mut(t.player) else {
            continue;
        };
        s.count += 1;
        speed_sum[t.player] += f64::from(t.ball_speed_after);
        if t.ball_pos.z >= 300.0 {
            s.aerial += 1;
        }
        if t.car_pos.x.abs() >= field::SIDE_WALL_X - 150.0 && t.car_pos.z > 60.0 {
            s.wall += 1;
        }
        if t.ball_dv >= 900.0 {
            s.hard_hits += 1;
        }
        let Some(next) = touches.get(i + 1) else {
            continue;
        };
        let gap = next.t - t.t;
        if next.team == t.team && next.player != t.player && gap <= PASS_WINDOW_S {
            let progress = field::normalized_y(next.ball_pos.y, t.team)
                - field::normalized_y(t.ball_pos.y, t.team);
            if progress >= PASS_MIN_PROGRESS {
                tstats[t.player].passes_completed += 1;
                if let Some(r) = tstats.get_mut(next.player) {
                    r.passes_received += 1;
                }
            }
        } else if next.team != t.team {
            tstats[t.player].turnovers += 1;
            if let Some(r) = tstats.get_mut(next.player) {
                r.takeaways += 1;
            }
            // 50/50: opposing touches close in time and space.
            if gap <= CHALLENGE_WINDOW_S && t.car_pos.dist(next.car_pos) <= 1000.0 {
                let third_soon = touches
                    .get(i + 2)
                    .is_some_and(|n| n.t - next.t <= CHALLENGE_NEUTRAL_S);
                for p in [t.player, next.player] {
                    if let Some(c) = cstats.get_mut(p) {
                        c.contests += 1;
                    }
                }
                if third_soon {
                    for p in [t.player, next.player] {
                        if let Some(c) = cstats.get_mut(p) {
                            c.neutral += 1;
                        }
                    }
                } else {
                    if let Some(c) = cstats.get_mut(next.player) {
                        c.wins += 1;
                    }
                    if let Some(c) = cstats.get_mut(t.player) {
                        c.losses += 1;
                    }
                }
            }
        }
    }
    for (s, sum) in tstats.iter_mut().zip(speed_sum) {
        if s.count > 0 {
            s.avg_touch_speed = sum / f64::from(s.count);
        }
    }
    (tstats, cstats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(t: f64, player: usize, team: u8, y: f32, car: Vec3) -> Touch {
        Touch {
            t,
            frame: 0,
            player,
            team,
            ball_pos: Vec3::new(0.0, y, 93.0),
            ball_speed_after: 1000.0,
            ball_dv: 500.0,
            car_pos: car,
        }
    }

    #[test]
    fn pass_needs_teammate_progress_and_window() {
        let c = Vec3::ZERO;
        let touches = [
            touch(0.0, 0, 0, 0.0, c),
            touch(1.0, 1, 0, 500.0, c), // pass 0→1 (blue attacks +y)
            touch(4.0, 0, 0, 900.0, c), // too late: no pass
        ];
        let (t, _) = touch_stats(&touches, 2);
        assert_eq!(t[0].passes_completed, 1);
        assert_eq!(t[1].passes_received, 1);
        assert_eq!(t[1].passes_completed, 0);
        assert_eq!(t[0].count, 2);
    }

    #[test]
    fn orange_progress_is_toward_minus_y() {
        let c = Vec3::ZERO;
        let touches = [touch(0.0, 0, 1, 0.0, c), touch(0.5, 1, 1, -400.0, c)];
        let (t, _) = touch_stats(&touches, 2);
        assert_eq!(t[0].passes_completed, 1);
    }

    #[test]
    fn challenge_winner_and_neutral() {
        let a = Vec3::new(0.0, -100.0, 17.0);
        let b = Vec3::new(0.0, 100.0, 17.0);
        // 0 (blue) vs 1 (orange): 1 touches second and nothing follows soon → 1 wins.
        let (_, c) = touch_stats(&[touch(0.0, 0, 0, 0.0, a), touch(0.3, 1, 1, 0.0, b)], 2);
        assert_eq!((c[1].wins, c[0].losses, c[0].contests), (1, 1, 1));
        // A third touch within 0.25 s makes it neutral.
        let (_, c) = touch_stats(
            &[
                touch(0.0, 0, 0, 0.0, a),
                touch(0.3, 1, 1, 0.0, b),
                touch(0.4, 0, 0, 0.0, a),
            ],
            2,
        );
        assert_eq!((c[0].neutral, c[1].neutral, c[1].wins), (1, 1, 0));
    }

    #[test]
    fn pickup_amounts_cap_at_full_tank_and_count_stolen() {
        let pickups = [
            // Big pad at (3072, 4096): orange half, so stolen for blue; blue had 200 raw.
            Pickup {
                player: 0,
                team: 0,
                pad_object: 7,
                boost_before_raw: 200.0,
                car_pos: Vec3::new(3050.0, 4100.0, 17.0),
            },
            // Small pad at (0, -1024) on blue's own half, from empty.
            Pickup {
                player: 0,
                team: 0,
                pad_object: 9,
                boost_before_raw: 0.0,
                car_pos: Vec3::new(10.0, -1000.0, 17.0),
            },
        ];
        let t = &pickup_totals(&pickups, 1)[0];
        assert!((t.collected[0] - 55.0).abs() < 1e-3, "big: 255 − 200");
        assert!((t.overfill - 200.0).abs() < 1e-3);
        assert!((t.collected[1] - 30.6).abs() < 1e-3, "small: 12 % of 255");
        assert_eq!(t.stolen_count, [1, 0]);
        assert!((t.overfill_stolen - 200.0).abs() < 1e-3);
    }
}
