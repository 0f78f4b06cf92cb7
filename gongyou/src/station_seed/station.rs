//! One generated station: its kind, name, address, amenities, hours, phone and notice,
//! drawn from the region it lies in.

use std::collections::{HashMap, HashSet};

use gongyou_domain::region::RegionCode;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use super::{GeneratedStation, Leaf, Table, AMENITIES, WEEKDAYS};

const STREET_BASES: [&str; 84] = [
    "人民", "解放", "中山", "建设", "新华", "和平", "胜利", "文化", "青年", "朝阳", "光明", "东风",
    "长江", "黄河", "滨江", "幸福", "团结", "健康", "育才", "学府", "科技", "创业", "府前", "环城",
    "站前", "迎宾", "金桥", "银河", "紫荆", "桂花", "梧桐", "玉兰", "海棠", "翠柏", "锦绣", "振兴",
    "复兴", "兴业", "繁华", "富强", "民主", "友谊", "春风", "江南", "湖滨", "体育", "公园", "花园",
    "太平", "永安", "长安", "安宁", "华山", "泰山", "天山", "昆仑", "龙江", "凤凰", "金沙", "白云",
    "青龙", "龙泉", "望江", "临江", "东湖", "南湖", "北湖", "西湖", "双拥", "工农", "红旗", "跃进",
    "新民", "民生", "广场", "商业", "工业", "航空", "铁路", "新城", "中心", "开元", "丰收", "金穗",
];

const STREET_SUFFIXES: [(&str, u32); 10] = [
    ("路", 46),
    ("街", 14),
    ("大道", 10),
    ("东路", 6),
    ("西路", 6),
    ("南路", 5),
    ("北路", 5),
    ("中路", 4),
    ("大街", 3),
    ("巷", 1),
];

const URBAN_LANDMARKS: [&str; 24] = [
    "万达广场",
    "吾悦广场",
    "龙湖天街",
    "万象城",
    "银泰城",
    "火车站",
    "高铁站",
    "汽车客运站",
    "人民公园",
    "体育中心",
    "市民中心",
    "会展中心",
    "步行街",
    "人民医院",
    "大学城",
    "软件园",
    "科技园",
    "物流园",
    "美食街",
    "文化广场",
    "时代广场",
    "中央商务区",
    "创意产业园",
    "电商产业园",
];

const COUNTY_LANDMARKS: [&str; 14] = [
    "人民广场",
    "文化广场",
    "汽车站",
    "高铁站",
    "农贸市场",
    "人民医院",
    "中医院",
    "步行街",
    "工业园",
    "物流园",
    "商贸城",
    "体育馆",
    "政务服务中心",
    "滨河公园",
];

/// (brand, branch suffix, battery-swap brand, weight)
const PARTNER_BRANDS: [(&str, &str, bool, u32); 12] = [
    ("美团骑手加油站", "店", false, 24),
    ("饿了么蓝骑士驿站", "店", false, 16),
    ("顺丰同城骑士之家", "站", false, 7),
    ("达达骑士驿站", "店", false, 5),
    ("中国石化易捷骑手驿站", "加油站", false, 8),
    ("中国邮政爱心驿站", "网点", false, 5),
    ("工商银行劳动者港湾", "支行", false, 6),
    ("建设银行劳动者港湾", "网点", false, 5),
    ("铁塔换电骑手驿站", "站", true, 9),
    ("e换电骑手驿站", "站", true, 6),
    ("智租换电骑手驿站", "站", true, 5),
    ("哈啰换电骑手驿站", "站", true, 4),
];

const MOBILE_PREFIXES: [&str; 30] = [
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152",
    "153", "155", "156", "157", "158", "159", "166", "176", "177", "178", "180", "181", "182",
    "183", "186", "187", "189",
];

// ---------------------------------------------------------------------------------------------
// Generation
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Fixed,
    Movable,
    WorkersHome,
    PartnerShop,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Fixed => "fixed",
            Kind::Movable => "movable",
            Kind::WorkersHome => "workers_home",
            Kind::PartnerShop => "partner_shop",
        }
    }
}

const KINDS: [(Kind, u32); 4] = [
    (Kind::Fixed, 55),
    (Kind::Movable, 10),
    (Kind::WorkersHome, 15),
    (Kind::PartnerShop, 20),
];

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn weighted<T: Copy>(rng: &mut StdRng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut x = rng.random_range(0..total.max(1));
    for &(item, w) in items {
        if x < w {
            return item;
        }
        x -= w;
    }
    items[items.len() - 1].0
}

struct Ctx<'a> {
    rng: StdRng,
    names: HashMap<RegionCode, HashSet<String>>,
    table: &'a Table,
}

pub(super) fn generate_from(table: &Table, n: usize, seed: u64) -> Vec<GeneratedStation> {
    let mut ctx = Ctx {
        rng: StdRng::seed_from_u64(seed),
        names: HashMap::new(),
        table,
    };
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        match one_station(&mut ctx) {
            Some(s) => out.push(s),
            None => break,
        }
    }
    out
}

fn one_station(ctx: &mut Ctx<'_>) -> Option<GeneratedStation> {
    let leaf = ctx.table.sample(&mut ctx.rng)?;
    let rng = &mut ctx.rng;
    let kind = weighted(rng, &KINDS);
    let brand = weighted(
        rng,
        &PARTNER_BRANDS.map(|(b, s, swap, w)| ((b, s, swap), w)),
    );

    let (lat, lng) = place(rng, leaf);
    let street = street(rng, leaf);
    let landmark = landmark(rng, leaf, &street);

    // Name, unique within the city.
    let base = station_name(rng, leaf, kind, brand, &street, &landmark);
    let taken = ctx.names.entry(leaf.city_key).or_default();
    let mut name = base.clone();
    let mut k = 2;
    while taken.contains(&name) {
        name = format!("{base}·{k}");
        k += 1;
    }
    taken.insert(name.clone());

    let address = address(rng, leaf, kind, &street, &landmark);
    let amenities = amenities(rng, leaf, kind, brand.2);
    let hours = hours(rng, kind);
    let capacity = match kind {
        Kind::Movable => rng.random_range(4..=12),
        Kind::PartnerShop => rng.random_range(4..=20),
        Kind::Fixed => {
            if rng.random_bool(0.15) {
                rng.random_range(30..=45)
            } else {
                rng.random_range(8..=30)
            }
        }
        Kind::WorkersHome => rng.random_range(15..=60),
    };
    let contact_phone = phone(rng, leaf, kind);
    let notice = notice(rng, kind, &amenities, brand.2);

    Some(GeneratedStation {
        name,
        kind: kind.as_str(),
        region_code: leaf.code.to_string(),
        address,
        lat,
        lng,
        amenities,
        hours,
        capacity,
        contact_phone,
        notice,
    })
}

/// A point around the leaf's seat: a 2-D normal offset, a tenth of stations more spread out,
/// never more than 20 km away.
fn place(rng: &mut StdRng, leaf: &Leaf) -> (f64, f64) {
    let sigma = if rng.random_bool(0.1) {
        rng.random_range(4.0..6.5)
    } else {
        rng.random_range(leaf.sigma_km.0..leaf.sigma_km.1)
    };
    // Box–Muller.
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2: f64 = rng.random::<f64>();
    let r = (sigma * (-2.0 * u1.ln()).sqrt()).min(20.0);
    let theta = std::f64::consts::TAU * u2;
    let (dy, dx) = (r * theta.sin(), r * theta.cos());
    let lat = leaf.lat + dy / 111.32;
    let lng = leaf.lng + dx / (111.32 * leaf.lat.to_radians().cos().max(0.2));
    (round6(lat), round6(lng))
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn street(rng: &mut StdRng, leaf: &Leaf) -> String {
    if !leaf.local_streets.is_empty() && rng.random_bool(0.35) {
        return (*pick(rng, leaf.local_streets)).to_owned();
    }
    let base = pick(rng, &STREET_BASES);
    let suffix = weighted(rng, &STREET_SUFFIXES);
    format!("{base}{suffix}")
}

fn landmark(rng: &mut StdRng, leaf: &Leaf, street: &str) -> String {
    if rng.random_bool(0.15) && leaf.urban {
        return format!("{street}地铁站");
    }
    let list: &[&str] = if leaf.urban {
        &URBAN_LANDMARKS
    } else {
        &COUNTY_LANDMARKS
    };
    (*pick(rng, list)).to_owned()
}

fn station_name(
    rng: &mut StdRng,
    leaf: &Leaf,
    kind: Kind,
    brand: (&str, &str, bool),
    street: &str,
    landmark: &str,
) -> String {
    let d = leaf.name;
    match kind {
        Kind::Fixed => match rng.random_range(0..10) {
            0..=3 => format!("{d}{street}户外劳动者驿站"),
            4 => format!("{d}{street}爱心驿站"),
            5 => format!("{d}{street}工会驿站"),
            6 => format!("{d}{street}新就业形态劳动者暖心驿站"),
            7 => format!("{d}{landmark}户外劳动者服务站"),
            8 => format!("{d}{street}骑手暖心驿站"),
            _ => format!("{d}{street}街道工会驿站"),
        },
        Kind::WorkersHome => match rng.random_range(0..6) {
            0 | 1 => format!("{d}职工之家（{street}）"),
            2 => format!("{d}{street}街道职工之家"),
            3 => format!("{d}新就业形态劳动者之家（{landmark}）"),
            4 => format!("{d}总工会{street}职工服务中心"),
            _ => format!("{d}快递外卖小哥之家（{street}）"),
        },
        Kind::PartnerShop => format!("{}·{street}{}", brand.0, brand.1),
        Kind::Movable => match rng.random_range(0..3) {
            0 => format!("{d}流动驿站（{landmark}）"),
            1 => format!("{d}工会流动服务车·{street}点位"),
            _ => format!("{d}移动暖心驿站（{street}）"),
        },
    }
}

fn address(rng: &mut StdRng, leaf: &Leaf, kind: Kind, street: &str, landmark: &str) -> String {
    let u: f64 = rng.random();
    let number = 1 + (u * u * 880.0) as u32;
    let head = format!("{}{}{street}{number}号", leaf.address_prefix, leaf.name);
    match kind {
        Kind::Movable => {
            if rng.random_bool(0.5) {
                format!("{head}附近")
            } else {
                format!("{head}（{landmark}旁）")
            }
        }
        Kind::WorkersHome if rng.random_bool(0.35) => {
            format!("{head}{}楼", rng.random_range(1..=3))
        }
        Kind::PartnerShop if rng.random_bool(0.2) => format!("{head}1层"),
        _ => head,
    }
}

/// Per-kind probabilities, in [`AMENITIES`] order: fixed, movable, workers' home, partner shop.
const AMENITY_P: [[f64; 4]; 19] = [
    [0.98, 0.97, 0.99, 0.95], // drinking_water
    [0.70, 0.35, 0.85, 0.50], // hot_water
    [0.92, 0.85, 0.95, 0.90], // phone_charging
    [0.45, 0.05, 0.50, 0.45], // ebike_charging
    [0.03, 0.00, 0.02, 0.05], // battery_swap (swap brands always)
    [0.65, 0.08, 0.85, 0.40], // microwave
    [0.40, 0.05, 0.60, 0.25], // fridge
    [0.75, 0.15, 0.85, 0.70], // air_conditioning
    [0.70, 0.10, 0.85, 0.50], // heating (north; south is far lower)
    [0.55, 0.05, 0.80, 0.50], // restroom
    [0.70, 0.30, 0.90, 0.80], // wifi
    [0.60, 0.85, 0.75, 0.35], // first_aid_kit
    [0.45, 0.40, 0.60, 0.20], // medicines
    [0.99, 0.95, 1.00, 0.97], // seating
    [0.30, 0.02, 0.60, 0.05], // books
    [0.30, 0.25, 0.35, 0.35], // repair_tools
    [0.05, 0.08, 0.45, 0.00], // legal_aid
    [0.02, 0.00, 0.25, 0.01], // shower
    [0.08, 0.00, 0.30, 0.05], // lockers
];

fn amenities(rng: &mut StdRng, leaf: &Leaf, kind: Kind, swap_brand: bool) -> Vec<&'static str> {
    let col = match kind {
        Kind::Fixed => 0,
        Kind::Movable => 1,
        Kind::WorkersHome => 2,
        Kind::PartnerShop => 3,
    };
    let mut out = Vec::with_capacity(12);
    for (code, probs) in AMENITIES.iter().zip(AMENITY_P.iter()) {
        let mut p = probs[col];
        match *code {
            "battery_swap" if kind == Kind::PartnerShop && swap_brand => p = 1.0,
            "ebike_charging" if kind == Kind::PartnerShop && swap_brand => p = 0.2,
            "heating" if !leaf.north => p *= 0.08,
            _ => {}
        }
        if rng.random_bool(p.clamp(0.0, 1.0)) {
            out.push(*code);
        }
    }
    out
}

type Day = &'static [(&'static str, &'static str)];

/// A JSON object built by plain inserts: `json!` would serialise an interpolated `Map` or
/// `Value` afresh, and `collect` sorts through a temporary `Vec`. Hours JSON is most of the
/// memory (one B-tree node per span) and time of a large set.
fn object<const N: usize>(fields: [(&str, Value); N]) -> Value {
    let mut map = serde_json::Map::new();
    for (k, v) in fields {
        map.insert(k.to_owned(), v);
    }
    Value::Object(map)
}

fn span_json(spans: &[(&str, &str)]) -> Value {
    Value::Array(
        spans
            .iter()
            .map(|(o, c)| {
                object([
                    ("open", Value::String((*o).to_owned())),
                    ("close", Value::String((*c).to_owned())),
                ])
            })
            .collect(),
    )
}

fn week_json(days: &[Day; 7], exceptions: Vec<Value>) -> Value {
    let mut weekly = serde_json::Map::new();
    for (key, spans) in WEEKDAYS.iter().zip(days.iter()) {
        weekly.insert((*key).to_owned(), span_json(spans));
    }
    object([
        ("weekly", Value::Object(weekly)),
        ("exceptions", Value::Array(exceptions)),
    ])
}

/// Monday–Friday one way, Saturday and Sunday each their own.
fn week(weekday: Day, sat: Day, sun: Day) -> [Day; 7] {
    [weekday, weekday, weekday, weekday, weekday, sat, sun]
}

fn daily(day: Day) -> [Day; 7] {
    week(day, day, day)
}

fn hours(rng: &mut StdRng, kind: Kind) -> Value {
    let around_the_clock = match kind {
        Kind::Fixed => 0.07,
        Kind::PartnerShop => 0.11,
        Kind::WorkersHome | Kind::Movable => 0.0,
    };
    let days = if rng.random_bool(around_the_clock) {
        daily(&[("00:00", "24:00")])
    } else {
        match kind {
            Kind::Fixed => match rng.random_range(0..100) {
                0..=39 => daily(&[("08:00", "20:00")]),
                40..=59 => daily(&[("07:30", "21:30")]),
                60..=67 => daily(&[("08:00", "12:00"), ("14:00", "20:00")]),
                68..=71 => daily(&[("08:30", "12:00"), ("13:30", "18:30")]),
                72..=81 => week(&[("08:00", "20:00")], &[("08:00", "20:00")], &[]),
                82..=91 => daily(&[("09:00", "21:00")]),
                _ => daily(&[("06:30", "22:00")]),
            },
            Kind::WorkersHome => {
                let weekday: Day = if rng.random_bool(0.3) {
                    &[("09:00", "12:00"), ("13:30", "17:30")]
                } else {
                    &[("09:00", "17:30")]
                };
                match rng.random_range(0..100) {
                    0..=49 => week(weekday, &[], &[]),
                    50..=84 => week(weekday, &[("10:00", "16:00")], &[]),
                    _ => week(weekday, &[("10:00", "16:00")], &[("10:00", "16:00")]),
                }
            }
            Kind::PartnerShop => match rng.random_range(0..100) {
                0..=54 => daily(&[("10:00", "22:00")]),
                55..=74 => daily(&[("09:00", "21:00")]),
                75..=89 => {
                    let late: Day = &[("10:00", "02:00")];
                    let mut days = daily(&[("10:00", "22:00")]);
                    days[4] = late;
                    days[5] = late;
                    days
                }
                _ => daily(&[("11:00", "14:00"), ("18:00", "02:00")]),
            },
            Kind::Movable => {
                let peaks: Day = match rng.random_range(0..10) {
                    0..=5 => &[("11:00", "14:00"), ("17:00", "21:00")],
                    6 | 7 => &[("10:30", "13:30"), ("17:00", "20:30")],
                    8 => &[("06:30", "09:00"), ("11:00", "14:00"), ("17:00", "21:00")],
                    _ => &[("11:00", "14:00")],
                };
                if rng.random_bool(0.3) {
                    week(peaks, &[], &[])
                } else {
                    daily(peaks)
                }
            }
        }
    };
    let exceptions = if rng.random_bool(0.05) {
        exceptions(rng)
    } else {
        Vec::new()
    };
    week_json(&days, exceptions)
}

fn exception(date: &str, spans: &[(&str, &str)]) -> Value {
    object([
        ("date", Value::String(date.to_owned())),
        ("spans", span_json(spans)),
    ])
}

/// One or two dated exceptions in 2026 (holidays: 春节 2-17, 劳动节 5-1, 端午 6-19, 中秋 9-25,
/// 国庆 10-1).
fn exceptions(rng: &mut StdRng) -> Vec<Value> {
    match rng.random_range(0..9) {
        0 => vec![exception("2026-10-01", &[])],
        1 => vec![
            exception("2026-09-30", &[("08:00", "16:00")]),
            exception("2026-10-01", &[]),
        ],
        2 => vec![
            exception("2026-02-16", &[("08:00", "15:00")]),
            exception("2026-02-17", &[]),
        ],
        3 => vec![exception("2026-02-17", &[])],
        4 => vec![exception("2026-05-01", &[])],
        5 => vec![exception("2026-06-19", &[("10:00", "16:00")])],
        6 => vec![exception("2026-09-25", &[("09:00", "15:00")])],
        7 => vec![exception("2026-10-01", &[]), exception("2026-10-02", &[])],
        _ => vec![exception("2026-08-01", &[("07:00", "23:00")])],
    }
}

fn digits(rng: &mut StdRng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

fn phone(rng: &mut StdRng, leaf: &Leaf, kind: Kind) -> String {
    let landline_p = match kind {
        Kind::WorkersHome => 0.6,
        Kind::Fixed => 0.35,
        Kind::PartnerShop => 0.25,
        Kind::Movable => 0.0,
    };
    if let Some(area) = leaf.area_code {
        if rng.random_bool(landline_p) {
            let first = *pick(rng, &['8', '8', '8', '6', '5', '3']);
            return format!("{area}-{first}{}", digits(rng, 7));
        }
    }
    format!("{}{}", pick(rng, &MOBILE_PREFIXES), digits(rng, 8))
}

fn notice(rng: &mut StdRng, kind: Kind, amenities: &[&str], swap_brand: bool) -> Option<String> {
    if !rng.random_bool(0.25) {
        return None;
    }
    let has = |a: &str| amenities.contains(&a);
    let mut options: Vec<&str> = vec![
        "夏季提供免费绿豆汤",
        "冬季提供免费姜茶",
        "驿站内禁止吸烟，请文明使用",
        "节假日开放时间以门口公告为准",
        "提供免费雨衣、雨伞借用",
        "高温天气延长开放至22:00",
        "暴雨、台风天气可能暂停服务，请提前电话确认",
    ];
    if has("ebike_charging") {
        options.push("电动车充电每次限2小时，请勿在室内充电");
    }
    if has("phone_charging") {
        options.push("提供多种手机充电线，用完请归位");
    }
    if has("microwave") {
        options.push("微波炉仅限加热餐食，请勿加热密封食品");
    }
    if has("legal_aid") {
        options.push("每周三下午有律师值班，提供免费劳动法律咨询");
    }
    if has("medicines") {
        options.push("常用药品免费取用，如需帮助请联系值班人员");
    }
    match kind {
        Kind::Movable => {
            options.push("流动驿站点位每周调整，请关注工会公众号");
            options.push("雨天暂停出车");
        }
        Kind::WorkersHome => {
            options.push("每月第一个周六提供免费体检");
            options.push("周末由志愿者值守，如遇关门请拨打联系电话");
        }
        Kind::PartnerShop if swap_brand => options.push("新用户首次换电免费，凭骑手App登记"),
        Kind::PartnerShop => options.push("凭骑手App在线状态可领取免费饮品一份"),
        Kind::Fixed => options.push("工会会员可免费领取应急包"),
    }
    Some((*pick(rng, &options)).to_owned())
}
