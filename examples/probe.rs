use std::collections::BTreeMap;
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let data = std::fs::read(&path).unwrap();
    let t = std::time::Instant::now();
    let r = boxcars::ParserBuilder::new(&data).must_parse_network_data().always_check_crc().parse().unwrap();
    eprintln!("parse {:?}", t.elapsed());
    println!("net {:?} major {} minor {} game_type {}", r.net_version, r.major_version, r.minor_version, r.game_type);
    for (k, v) in &r.properties { if k != "PlayerStats" && k!="Goals" && k!="HighLights" { println!("PROP {k} = {v:?}"); } }
    for (k, v) in &r.properties { if k == "PlayerStats" || k=="Goals" { println!("PROP {k} = {v:?}"); } }
    let frames = &r.network_frames.as_ref().unwrap().frames;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut newc: BTreeMap<String, usize> = BTreeMap::new();
    for f in frames {
        for n in &f.new_actors { *newc.entry(r.objects[n.object_id.0 as usize].clone()).or_default() += 1; }
        for u in &f.updated_actors {
            let a = format!("{:?}", u.attribute); let a = a.split('(').next().unwrap().to_string();
            *counts.entry(format!("{} :: {}", r.objects[u.object_id.0 as usize], a)).or_default() += 1;
        }
    }
    for (k, v) in newc { println!("NEW {v:6} {k}"); }
    for (k, v) in counts { println!("ATTR {v:6} {k}"); }
    println!("frames {} first t {} last t {}", frames.len(), frames[0].time, frames.last().unwrap().time);
}
