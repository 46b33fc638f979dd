fn main() {
    let path = std::env::args().nth(1).unwrap();
    let data = std::fs::read(&path).unwrap();
    let r = boxcars::ParserBuilder::new(&data).must_parse_network_data().parse().unwrap();
    let frames = &r.network_frames.as_ref().unwrap().frames;
    let mut last: std::collections::HashMap<i32, u8> = Default::default();
    let mut pad_obj: std::collections::HashMap<i32, i32> = Default::default();
    let (mut spawn_frame_picks, mut other) = (0, 0);
    for f in frames.iter() {
        let spawned: Vec<i32> = f.new_actors.iter().map(|a| a.actor_id.0).collect();
        for a in &f.new_actors { pad_obj.insert(a.actor_id.0, a.object_id.0); }
        for u in &f.updated_actors {
            if let boxcars::Attribute::PickupNew(p) = &u.attribute {
                let obj = pad_obj[&u.actor_id.0];
                let prev = last.get(&obj).copied();
                if p.picked_up != 255 && prev != Some(p.picked_up) {
                    if spawned.contains(&u.actor_id.0) { spawn_frame_picks += 1; println!("spawn-frame pickup {:.2} prev {:?} seq {} inst {:?}", f.time, prev, p.picked_up, p.instigator); } else { other += 1; }
                }
                last.insert(obj, p.picked_up);
            }
        }
    }
    println!("spawn-frame {spawn_frame_picks} other {other}");
}
