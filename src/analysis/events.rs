//! Discrete events collected during the frame pass and turned into stats afterwards: boost pad
//! pickups (pad size is only known once every pickup of a pad has voted), touches with passes,
//! turnovers and 50/50 challenges (STATS.md §3, §6, §7).

use super::field::{self, PadSize, Vec3};
use crate::report::{Boost, Challenges, Touches};
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct Pickup {
    pub player: usize,
    pub team: u8,
    /// Index of the pad's object in the replay's object table (stable across actor re-creation).
    pub pad_object: usize,
    /// The server's last replicated amount before the pickup, and its next one after it with
    /// the update's serial number (None when it never came).
    pub replicated_before_raw: f32,
    pub replicated_after: Option<(f32, u32)>,
    pub car_pos: Vec3,
    /// The car's spawn number: a demolished or reset player drives a new car.
    pub car_spawn: u32,
    /// The match clock (Σ frame deltas) at the pickup's frame and at the frame before it.
    pub clock: f64,
    pub previous_frame_clock: f64,
    /// The replay showed the pad available since its last pickup (see [`pickup_totals`]).
    pub respawn_seen: bool,
}

/// Resolves each pad object to a Soccar pad by majority vote of the car positions at its pickups.
pub fn resolve_pads(pickups: &[Pickup]) -> HashMap<usize, usize> {
    let mut votes: HashMap<usize, Vec<u32>> = Default::default();
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

/// The pad a pickup is credited to, and whether it was a fresh pickup of its own pad.
#[derive(Debug, Clone, Copy)]
struct Credit {
    pad: usize,
    fresh: bool,
}

/// Which pad each pickup is credited to (None: not counted). Normally the pad the server names.
/// But a pad taken again the moment it respawned, with no frame of the replay showing it back
/// (no respawn replicated, and no recorded frame at least a server tick after its respawn
/// time), reads as a repeat of the pad's previous pickup: it is credited to the pad this car
/// last took afresh (size and half), and dropped when this car has taken none (a car fresh from
/// a demolition). A repeat does not restart the pad's respawn time (chains of repeats were not
/// seen on the corpus, so nothing says how ballchasing treats them).
fn credit_pads(pickups: &[Pickup], pads: &HashMap<usize, usize>) -> Vec<Option<Credit>> {
    let table = field::soccar_pads();
    // Per pad object, the clock of its last fresh pickup; per car, the pad it last took afresh.
    let mut pad_taken: HashMap<usize, f64> = HashMap::new();
    let mut car_pad: HashMap<u32, usize> = HashMap::new();
    pickups
        .iter()
        .map(|p| {
            let &named = pads.get(&p.pad_object)?;
            let respawn = table[named].size.respawn_s();
            let fresh = p.respawn_seen
                || pad_taken.get(&p.pad_object).is_none_or(|&taken| {
                    p.previous_frame_clock >= taken + respawn + field::SERVER_TICK_S
                });
            if !fresh {
                let &pad = car_pad.get(&p.car_spawn)?;
                return Some(Credit { pad, fresh });
            }
            pad_taken.insert(p.pad_object, p.clock);
            car_pad.insert(p.car_spawn, named);
            Some(Credit { pad: named, fresh })
        })
        .collect()
}

/// Sums pickups per player (index = player). Amounts in raw units (0–255 scale).
///
/// ballchasing's accounting, checked value by value against `groundtruth/`:
/// - **Which pickups count.** A pad counts when the server's replicated amount rises across it —
///   from the last replicated value to the next one, with no drain estimate in between — and
///   adds that rise: a whole grant (a small pad grants 31 of 255, over its nominal 30.6), held
///   to the pad's nominal when several pickups share one update (the last one takes the rest).
///   A pad taken while boosting, whose new replicated value is not above the last one, is not
///   counted (nor is it stolen); that holds in every phase, kickoff included. Neither is one
///   whose new amount never came (no update within the tracker's wait). The "next" value is the
///   first update that carries the pad's grant: an update in the pickup's own frame that did not
///   rise can predate the grant, and then the next frame's update is the pickup's (tracker).
/// - **Which pad it was:** see [`credit_pads`]. A repeat credited to another pad brings the
///   whole rise, whatever that pad's size. Three players on the four ground-truth files show
///   it both ways: a big pad counted small (with its 224 of boost), a small one counted big, a
///   small one not counted.
///
/// Overfill is what a pad offered beyond a full tank: nominal − collected when the tank ends
/// full.
pub fn pickup_totals(pickups: &[Pickup], players: usize) -> Vec<PickupTotals> {
    let pads = resolve_pads(pickups);
    let table = field::soccar_pads();
    let credits = credit_pads(pickups, &pads);
    let rise = |p: &Pickup| {
        p.replicated_after
            .filter(|(after, _)| *after > p.replicated_before_raw)
    };
    // The last counted pickup of each (player, update serial): earlier ones sharing that update
    // keep to their nominal.
    let last_of_update: HashMap<(usize, u32), usize> = pickups
        .iter()
        .enumerate()
        .filter(|(i, _)| credits[*i].is_some())
        .filter_map(|(i, p)| rise(p).map(|(_, serial)| ((p.player, serial), i)))
        .collect();
    let mut out = vec![PickupTotals::default(); players];
    // Per player: (update serial, amount so far) of pickups sharing one replicated update.
    let mut shared: Vec<Option<(u32, f32)>> = vec![None; players];
    for (i, p) in pickups.iter().enumerate() {
        let (Some(credit), Some((after, serial))) = (credits[i], rise(p)) else {
            continue;
        };
        let Some(t) = out.get_mut(p.player) else {
            continue;
        };
        let pad = &table[credit.pad];
        let nominal = pad.size.grant_raw();
        let k = usize::from(pad.size == PadSize::Small);
        let slot = &mut shared[p.player];
        let taken = match *slot {
            Some((s, taken)) if s == serial => taken,
            _ => 0.0,
        };
        let cap = if last_of_update.get(&(p.player, serial)) != Some(&i) {
            nominal
        } else if credit.fresh {
            // Amounts are whole units: a pad grants at most its nominal rounded up.
            nominal.ceil()
        } else {
            field::BOOST_MAX_RAW
        };
        let collected = (after - p.replicated_before_raw - taken).clamp(0.0, cap);
        *slot = Some((serial, taken + collected));
        let overfill = if after >= field::BOOST_MAX_RAW {
            (nominal - collected).max(0.0)
        } else {
            0.0
        };
        let (collected, overfill) = (f64::from(collected), f64::from(overfill));
        // Stolen: the pad lies in the opponent half (normalized y > 128, so centre pads never count).
        let stolen = field::normalized_y(pad.y, p.team) > field::STOLEN_PAD_Y_MIN;
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

/// `used_raw` is the boost used (falls of the replicated amount); `active_time` is kickoff
/// countdowns, waiting for the kickoff touch and live play: the base of boost per minute.
pub fn boost_report(
    totals: &PickupTotals,
    avg_pct: f64,
    times: (f64, f64, [f64; 4]),
    used_raw: f64,
    used_supersonic_raw: f64,
    counted_time: f64,
    active_time: f64,
) -> Boost {
    let to_pct = |raw: f64| raw * 100.0 / 255.0;
    let collected = to_pct(totals.collected[0] + totals.collected[1]);
    let (zero, full, bands) = times;
    let per_minute = |v: f64| {
        if active_time > 0.0 {
            v * 60.0 / active_time
        } else {
            0.0
        }
    };
    let share = |v: f64| {
        if counted_time > 0.0 {
            v * 100.0 / counted_time
        } else {
            0.0
        }
    };
    Boost {
        bpm: per_minute(to_pct(used_raw)),
        bcpm: per_minute(collected),
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
        if t.ball_pos.z >= field::AERIAL_TOUCH_Z_MIN {
            s.aerial += 1;
        }
        if t.car_pos.x.abs() >= field::SIDE_WALL_X - field::WALL_TOUCH_MARGIN
            && t.car_pos.z > field::WALL_TOUCH_Z_MIN
        {
            s.wall += 1;
        }
        if t.ball_dv >= field::HARD_HIT_DV {
            s.hard_hits += 1;
        }
        let Some(next) = touches.get(i + 1) else {
            continue;
        };
        let gap = next.t - t.t;
        if next.team == t.team && next.player != t.player && gap <= field::PASS_WINDOW_S {
            let progress = field::normalized_y(next.ball_pos.y, t.team)
                - field::normalized_y(t.ball_pos.y, t.team);
            if progress >= field::PASS_MIN_PROGRESS {
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
            if gap <= field::CHALLENGE_WINDOW_S
                && t.car_pos.dist(next.car_pos) <= field::CHALLENGE_MAX_DIST
            {
                let third_soon = touches
                    .get(i + 2)
                    .is_some_and(|n| n.t - next.t <= field::CHALLENGE_NEUTRAL_S);
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

    fn pickup(pad_object: usize, pos: Vec3, before: f32, after: Option<(f32, u32)>) -> Pickup {
        Pickup {
            player: 0,
            team: 0,
            pad_object,
            replicated_before_raw: before,
            replicated_after: after,
            car_pos: pos,
            car_spawn: 1,
            clock: 0.0,
            previous_frame_clock: 0.0,
            respawn_seen: true,
        }
    }

    /// A pickup at `clock` (the frame before it 1/30 s earlier) by car `spawn`, with or without
    /// the pad's respawn replicated since its last pickup.
    fn timed(mut p: Pickup, clock: f64, spawn: u32, respawn_seen: bool) -> Pickup {
        p.clock = clock;
        p.previous_frame_clock = clock - 1.0 / 30.0;
        p.car_spawn = spawn;
        p.respawn_seen = respawn_seen;
        p
    }

    #[test]
    fn pickup_amounts_follow_the_replicated_rise_and_count_stolen() {
        let big_orange = Vec3::new(3050.0, 4100.0, 17.0); // (3072, 4096): orange half
        let small_blue = Vec3::new(10.0, -1000.0, 17.0); // (0, -1024): blue half
        // Big pad, last replicated 200, tank ends full: the rise from the replicated value
        // counts, the rest of the pad is overfill.
        let t = &pickup_totals(&[pickup(7, big_orange, 200.0, Some((255.0, 1)))], 1)[0];
        assert!((t.collected[0] - 55.0).abs() < 1e-3, "big: 255 − 200");
        assert!((t.overfill - 200.0).abs() < 1e-3);
        assert_eq!(t.stolen_count, [1, 0]);
        assert!((t.overfill_stolen - 200.0).abs() < 1e-3);

        // Small pad from 100 to 131: the whole 31 raw (the server grants 31 for a nominal 30.6);
        // no overfill below full.
        let t = &pickup_totals(&[pickup(9, small_blue, 100.0, Some((131.0, 1)))], 1)[0];
        assert!((t.collected[1] - 31.0).abs() < 1e-3);
        assert_eq!((t.overfill, t.stolen_count), (0.0, [0, 0]));

        // Boosting hid the rise (replicated 180 → 150): ballchasing does not count the pad.
        let t = &pickup_totals(&[pickup(9, small_blue, 180.0, Some((150.0, 1)))], 1)[0];
        assert_eq!((t.count, t.collected[1], t.overfill), ([0, 0], 0.0, 0.0));

        // Two small pads before one update (200 → 255) share its rise of 55: the first keeps to
        // its nominal 30.6, the last takes the rest.
        let t = &pickup_totals(
            &[
                pickup(9, small_blue, 200.0, Some((255.0, 7))),
                pickup(9, small_blue, 200.0, Some((255.0, 7))),
            ],
            1,
        )[0];
        assert_eq!(t.count, [0, 2]);
        assert!((t.collected[1] - 55.0).abs() < 1e-3);
        assert!((t.overfill - (30.6 - 30.6 + 30.6 - 24.4)).abs() < 1e-3);

        // Two pickups from empty with equal values are still two updates.
        let t = &pickup_totals(
            &[
                pickup(7, big_orange, 0.0, Some((255.0, 3))),
                pickup(7, big_orange, 0.0, Some((255.0, 4))),
            ],
            1,
        )[0];
        assert!((t.collected[0] - 510.0).abs() < 1e-3);

        // The new amount never came: not counted.
        let t = &pickup_totals(&[pickup(9, small_blue, 240.0, None)], 1)[0];
        assert_eq!((t.count, t.collected[1], t.overfill), ([0, 0], 0.0, 0.0));

        // A small pad's own pickup brings at most a whole grant (31), even when the amount
        // before it was stale (100 → 160).
        let t = &pickup_totals(&[pickup(9, small_blue, 100.0, Some((160.0, 1)))], 1)[0];
        assert!((t.collected[1] - 31.0).abs() < 1e-3);
    }

    #[test]
    fn a_pad_retaken_before_the_replay_showed_it_back_counts_as_the_cars_last_fresh_pad() {
        let big = Vec3::new(-3050.0, -4080.0, 17.0); // big pad (−3072, −4096)
        let small = Vec3::new(-1780.0, -4170.0, 17.0); // small pad (−1792, −4184)
        let other_small = Vec3::new(-930.0, -3300.0, 17.0); // small pad (−940, −3308)
        let (big_pad, small_pad, other_pad) = (1, 2, 3);

        // Car 1 takes the big pad at 20 s. Car 2 takes the small pad at 29.6 s, then the big pad
        // again at 30.02 s: its respawn (30 s) was never replicated and the frame before (29.99 s)
        // is before it. ballchasing reads it as a repeat, and its boost goes to the small pad car
        // 2 last took: a small pad of 224.
        let repeat = [
            timed(pickup(big_pad, big, 19.0, Some((255.0, 1))), 20.0, 1, true),
            timed(
                pickup(small_pad, small, 0.0, Some((31.0, 2))),
                29.6,
                2,
                true,
            ),
            timed(
                pickup(big_pad, big, 31.0, Some((255.0, 3))),
                30.02,
                2,
                false,
            ),
        ];
        let t = pickup_totals(&repeat, 1);
        assert_eq!(t[0].count, [1, 2]);
        assert!((t[0].collected[0] - 236.0).abs() < 1e-3);
        assert!((t[0].collected[1] - (31.0 + 224.0)).abs() < 1e-3);

        // The same pickup a frame later (frame before at 30.02 s ≥ 30 s + a server tick): the
        // replay could have shown the pad back, so it is a big pad of its own.
        let mut later = repeat.clone();
        later[2] = timed(
            pickup(big_pad, big, 31.0, Some((255.0, 3))),
            30.0533,
            2,
            false,
        );
        assert_eq!(pickup_totals(&later, 1)[0].count, [2, 1]);

        // Its respawn was replicated: a pickup of its own, however soon.
        let mut seen = repeat.clone();
        seen[2].respawn_seen = true;
        assert_eq!(pickup_totals(&seen, 1)[0].count, [2, 1]);

        // A small pad taken by car 3 the moment it respawned after car 1 took it (4.02 s), car 3
        // having taken a big pad before: counted big. A fresh car (4, just respawned from a
        // demolition) with no pickup of its own: not counted at all.
        let small_repeat = [
            timed(pickup(big_pad, big, 0.0, Some((255.0, 1))), 1.0, 3, true),
            timed(
                pickup(other_pad, other_small, 100.0, Some((131.0, 2))),
                10.0,
                1,
                true,
            ),
            timed(
                pickup(other_pad, other_small, 100.0, Some((130.0, 3))),
                14.02,
                3,
                false,
            ),
            timed(
                pickup(other_pad, other_small, 85.0, Some((116.0, 4))),
                14.03,
                4,
                false,
            ),
        ];
        let t = pickup_totals(&small_repeat, 1);
        assert_eq!(t[0].count, [2, 1]);
        assert!((t[0].collected[0] - 285.0).abs() < 1e-3);
        assert!((t[0].collected[1] - 31.0).abs() < 1e-3);

        // That fresh car's dropped repeat and its next small pad share one update (85 → 170):
        // the small pad is held to its own grant, not given the dropped one's.
        let mut shared = small_repeat.to_vec();
        shared[3].replicated_after = Some((170.0, 9));
        shared.push(timed(
            pickup(small_pad, small, 85.0, Some((170.0, 9))),
            14.1,
            4,
            true,
        ));
        let t = pickup_totals(&shared, 1);
        assert_eq!(t[0].count, [2, 2]);
        assert!((t[0].collected[1] - 62.0).abs() < 1e-3);
    }
}
