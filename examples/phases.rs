fn main() {
    let path = std::env::args().nth(1).unwrap();
    let data = std::fs::read(&path).unwrap();
    let r = boxcars::ParserBuilder::new(&data).must_parse_network_data().parse().unwrap();
    let frames = &r.network_frames.as_ref().unwrap().frames;
    let mut last: std::collections::HashMap<String, String> = Default::default();
    for (i, f) in frames.iter().enumerate() {
        for u in &f.updated_actors {
            let name = r.objects[u.object_id.0 as usize].rsplit('.').next().unwrap().to_string();
            if ["ReplicatedStateName","ReplicatedRoundCountDownNumber","bBallHasBeenHit","ReplicatedScoredOnTeam","bOverTime","SecondsRemaining","bMatchEnded","ReplicatedDemolishExtended","ReplicatedDemolish","ReplicatedGameStateTimeRemaining","bNoContest", "bForfeit"].iter().any(|k| name.ends_with(k)) {
                let mut v = format!("{:?}", u.attribute);
                if let boxcars::Attribute::Int(n) = u.attribute { if name.ends_with("StateName") { v = r.names.get(n as usize).cloned().unwrap_or_default(); } }
                if last.get(&name) != Some(&v) || name.contains("Demol") { println!("{i:5} {:8.2} {name} {v}", f.time); last.insert(name, v); }
            }
        }
    }
    for (k, v) in &r.properties { if k == "Goals" { println!("{v:?}"); } }
}
