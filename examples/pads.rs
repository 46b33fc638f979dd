fn main() {
    let path = std::env::args().nth(1).unwrap();
    let data = std::fs::read(&path).unwrap();
    let r = boxcars::ParserBuilder::new(&data).must_parse_network_data().parse().unwrap();
    let frames = &r.network_frames.as_ref().unwrap().frames;
    let mut n = 0;
    for (i, f) in frames.iter().enumerate() {
        for a in &f.new_actors { let name = &r.objects[a.object_id.0 as usize]; if name.contains("VehiclePickup") && i < 2 { println!("new {} {} {:?}", a.actor_id, name, a.initial_trajectory); } }
        for u in &f.updated_actors {
            if let boxcars::Attribute::PickupNew(p) = &u.attribute { if n < 60 { println!("{i} {:.2} actor {} {:?}", f.time, u.actor_id, p); n += 1; } }
            if let boxcars::Attribute::ReplicatedBoost(b) = &u.attribute { if i > 300 && i < 400 { println!("{i} {:.2} boost actor {} {:?}", f.time, u.actor_id, b); } }
        }
    }
}
