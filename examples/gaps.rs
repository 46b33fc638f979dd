fn main() {
    let path = std::env::args().nth(1).unwrap();
    let data = std::fs::read(&path).unwrap();
    let r = boxcars::ParserBuilder::new(&data).must_parse_network_data().parse().unwrap();
    let frames = &r.network_frames.as_ref().unwrap().frames;
    let mut prev = frames[0].time;
    for (i, f) in frames.iter().enumerate() { if f.time - prev > 0.06 || f.delta > 0.06 { println!("gap at {i} {:.2} -> {:.2} delta {:.3}", prev, f.time, f.delta); } prev = f.time; }
    println!("n {} first {:.2} last {:.2}", frames.len(), frames[0].time, frames.last().unwrap().time);
    let s: f32 = frames.iter().map(|f| f.delta).sum(); println!("sum delta {s}");
}
