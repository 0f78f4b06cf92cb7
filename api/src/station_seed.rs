//! A deterministic generator of realistic rest stations (驿站) for seeding, demos and load
//! tests: stations cluster around real county/district seats from the GB/T 2260 regions list
//! (GCJ-02), weighted towards urban districts and big cities, with amenity mixes, opening
//! hours, capacities, phones and notices that look like the real thing.
//!
//! The same `(n, seed)` always yields the same stations. Region tables are built once, sorted by
//! code (the region map's own iteration order is not stable), and stations are drawn with a
//! cumulative-weight binary search, so the generator itself is cheap: most of the time and
//! memory of `generate(150_000, _)` (about 1.3 GB, ~9 KB a station) is the `serde_json::Value`
//! hours, one B-tree node per opening span.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use gongyou_domain::region::{Region, RegionCode, RegionLevel};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

/// One generated station, ready to be written through the stations API or storage layer.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedStation {
    pub name: String,
    /// `"fixed"`, `"movable"`, `"workers_home"` or `"partner_shop"`.
    pub kind: &'static str,
    /// The six-digit county/district code the station lies in (for the few prefecture-level
    /// cities without districts — 东莞, 中山, 儋州, 嘉峪关 — the city's own code).
    pub region_code: String,
    pub address: String,
    /// GCJ-02.
    pub lat: f64,
    pub lng: f64,
    /// Codes from [`AMENITIES`] only.
    pub amenities: Vec<&'static str>,
    /// `{"weekly": {"mon": [{"open","close"}], …}, "exceptions": [{"date","spans"}]}`.
    pub hours: Value,
    pub capacity: i32,
    pub contact_phone: String,
    pub notice: Option<String>,
}

/// The amenity vocabulary, in display order.
pub const AMENITIES: [&str; 19] = [
    "drinking_water",
    "hot_water",
    "phone_charging",
    "ebike_charging",
    "battery_swap",
    "microwave",
    "fridge",
    "air_conditioning",
    "heating",
    "restroom",
    "wifi",
    "first_aid_kit",
    "medicines",
    "seating",
    "books",
    "repair_tools",
    "legal_aid",
    "shower",
    "lockers",
];

/// Weekday keys of the hours JSON, Monday first.
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A national set of `n` stations.
pub fn generate(n: usize, seed: u64) -> Vec<GeneratedStation> {
    let table = &*NATIONAL;
    generate_from(table, n, seed)
}

/// `n` stations in the districts under one region (normally a prefecture-level city such as
/// `"510100"` 成都 or `"440300"` 深圳; a province or a single county also works). An unknown
/// code, or one with no placeable districts, yields nothing.
pub fn generate_around(city_code: &str, n: usize, seed: u64) -> Vec<GeneratedStation> {
    let Ok(root) = RegionCode::parse(city_code) else {
        return Vec::new();
    };
    let leaves: Vec<Leaf> = NATIONAL
        .leaves
        .iter()
        .filter(|l| l.code.is_within(root))
        .cloned()
        .collect();
    generate_from(&Table::new(leaves), n, seed)
}

// ---------------------------------------------------------------------------------------------
// Region table
// ---------------------------------------------------------------------------------------------

/// A county-level unit stations can be placed in.
#[derive(Debug, Clone)]
struct Leaf {
    code: RegionCode,
    name: &'static str,
    /// "<province><city>" prefix of addresses (municipalities are not repeated).
    address_prefix: String,
    /// Names are kept unique per city: the parent city's code, or the leaf's own.
    city_key: RegionCode,
    lat: f64,
    lng: f64,
    weight: f64,
    urban: bool,
    north: bool,
    /// Cluster spread (km) of ordinary stations.
    sigma_km: (f64, f64),
    area_code: Option<&'static str>,
    local_streets: &'static [&'static str],
}

struct Table {
    leaves: Vec<Leaf>,
    cumulative: Vec<f64>,
}

impl Table {
    fn new(leaves: Vec<Leaf>) -> Self {
        let mut total = 0.0;
        let cumulative = leaves
            .iter()
            .map(|l| {
                total += l.weight;
                total
            })
            .collect();
        Self { leaves, cumulative }
    }

    fn sample(&self, rng: &mut StdRng) -> Option<&Leaf> {
        let total = *self.cumulative.last()?;
        let x = rng.random::<f64>() * total;
        let i = self.cumulative.partition_point(|&c| c <= x);
        self.leaves.get(i.min(self.leaves.len() - 1))
    }
}

static NATIONAL: LazyLock<Table> = LazyLock::new(|| Table::new(build_leaves()));

const TIER1: [u32; 4] = [110100, 310100, 440100, 440300];
const TIER2: [u32; 17] = [
    510100, 330100, 420100, 500100, 120100, 320100, 610100, 320500, 430100, 410100, 441900, 370200,
    210100, 330200, 530100, 340100, 440600,
];
/// Provinces that heat in winter (北方).
const NORTH: [u32; 15] = [11, 12, 13, 14, 15, 21, 22, 23, 37, 41, 61, 62, 63, 64, 65];
/// 三沙: islands, no riders.
const EXCLUDED: [u32; 1] = [460300];

const AREA_CODES: [(u32, &str); 41] = [
    (110100, "010"),
    (120100, "022"),
    (130100, "0311"),
    (140100, "0351"),
    (150100, "0471"),
    (210100, "024"),
    (210200, "0411"),
    (220100, "0431"),
    (230100, "0451"),
    (310100, "021"),
    (320100, "025"),
    (320500, "0512"),
    (330100, "0571"),
    (330200, "0574"),
    (340100, "0551"),
    (350100, "0591"),
    (350200, "0592"),
    (360100, "0791"),
    (370100, "0531"),
    (370200, "0532"),
    (410100, "0371"),
    (420100, "027"),
    (430100, "0731"),
    (440100, "020"),
    (440300, "0755"),
    (440600, "0757"),
    (441900, "0769"),
    (442000, "0760"),
    (450100, "0771"),
    (460100, "0898"),
    (500100, "023"),
    (500200, "023"),
    (510100, "028"),
    (520100, "0851"),
    (530100, "0871"),
    (540100, "0891"),
    (610100, "029"),
    (620100, "0931"),
    (630100, "0971"),
    (640100, "0951"),
    (650100, "0991"),
];

/// Well-known streets of some big-city districts (used only if code and name both match).
const LOCAL_STREETS: [(u32, &str, &[&str]); 25] = [
    (
        510104,
        "锦江区",
        &[
            "春熙路",
            "红星路",
            "东大街",
            "总府路",
            "书院西街",
            "三官堂街",
        ],
    ),
    (
        510105,
        "青羊区",
        &["琴台路", "青华路", "人民中路", "东城根街", "草堂路"],
    ),
    (
        510106,
        "金牛区",
        &["营门口路", "茶店子路", "沙湾路", "蜀汉路", "人民北路"],
    ),
    (
        510107,
        "武侯区",
        &["科华北路", "玉林路", "武侯祠大街", "红牌楼路", "高升桥路"],
    ),
    (
        510108,
        "成华区",
        &["建设路", "二仙桥东路", "府青路", "双桥路", "猛追湾街"],
    ),
    (
        440304,
        "福田区",
        &["深南中路", "华强北路", "福华一路", "彩田路", "益田路"],
    ),
    (
        440305,
        "南山区",
        &["科苑路", "南海大道", "后海大道", "桃园路", "高新南一道"],
    ),
    (
        440303,
        "罗湖区",
        &["东门中路", "人民南路", "深南东路", "宝安南路", "翠竹路"],
    ),
    (
        440306,
        "宝安区",
        &["宝安大道", "创业一路", "建安一路", "西乡大道"],
    ),
    (
        440307,
        "龙岗区",
        &["龙岗大道", "龙翔大道", "五和大道", "布澜路", "吉华路"],
    ),
    (
        110105,
        "朝阳区",
        &["建国路", "三里屯路", "朝阳北路", "望京街", "工体北路"],
    ),
    (
        110108,
        "海淀区",
        &["中关村大街", "学院路", "知春路", "上地十街", "苏州街"],
    ),
    (
        310101,
        "黄浦区",
        &["南京东路", "淮海中路", "西藏中路", "河南中路", "复兴中路"],
    ),
    (
        310115,
        "浦东新区",
        &["世纪大道", "张杨路", "浦东南路", "东方路", "川沙路"],
    ),
    (
        310104,
        "徐汇区",
        &["漕溪北路", "肇嘉浜路", "虹桥路", "衡山路", "田林路"],
    ),
    (
        440106,
        "天河区",
        &["天河路", "体育西路", "黄埔大道西", "天河北路", "林和西路"],
    ),
    (
        440104,
        "越秀区",
        &["北京路", "中山五路", "环市东路", "东风中路", "解放北路"],
    ),
    (
        330106,
        "西湖区",
        &["文三路", "教工路", "天目山路", "古墩路", "文一西路"],
    ),
    (
        330102,
        "上城区",
        &["解放路", "延安路", "清泰街", "钱江路", "秋涛路"],
    ),
    (
        420106,
        "武昌区",
        &["中南路", "中北路", "武珞路", "和平大道", "徐东大街"],
    ),
    (
        420102,
        "江岸区",
        &["解放大道", "中山大道", "沿江大道", "黄浦大街", "台北路"],
    ),
    (
        500103,
        "渝中区",
        &["民族路", "民权路", "中山一路", "中山三路", "大坪正街"],
    ),
    (
        120101,
        "和平区",
        &["南京路", "滨江道", "和平路", "西康路", "成都道"],
    ),
    (
        320102,
        "玄武区",
        &["中山路", "珠江路", "北京东路", "龙蟠中路", "长江路"],
    ),
    (
        610113,
        "雁塔区",
        &["小寨东路", "长安南路", "雁塔路", "科技路", "电子正街"],
    ),
];

fn code_num(code: RegionCode) -> u32 {
    code.to_string().parse().unwrap_or(0)
}

fn coords(r: &Region) -> Option<(f64, f64)> {
    match (r.lat, r.lng) {
        (Some(lat), Some(lng)) if lat.is_finite() && lng.is_finite() => Some((lat, lng)),
        _ => None,
    }
}

fn build_leaves() -> Vec<Leaf> {
    let mut regions: Vec<&'static Region> = RegionCode::all().collect();
    regions.sort_by_key(|r| r.code);
    let with_children: HashSet<RegionCode> = regions.iter().filter_map(|r| r.parent).collect();

    let mut leaves = Vec::new();
    for r in regions {
        let num = code_num(r.code);
        let province = num / 10_000;
        // Mainland only: 台湾 71, 香港 81, 澳门 82 have other phone and address conventions.
        if matches!(province, 71 | 81 | 82) || EXCLUDED.contains(&num) {
            continue;
        }
        let county = r.level == RegionLevel::County;
        let leaf_city = r.level == RegionLevel::City && !with_children.contains(&r.code);
        if !county && !leaf_city {
            continue;
        }
        let Some((lat, lng)) = coords(r) else {
            continue;
        };

        let prov_region = r.code.province().region();
        let parent_city = r
            .parent
            .map(|p| p.region())
            .filter(|p| p.level == RegionLevel::City);
        let city_region = if leaf_city { Some(r) } else { parent_city };
        let city_num = city_region.map(|c| code_num(c.code)).unwrap_or(num);

        let mut address_prefix = prov_region.name.clone();
        if let Some(c) = parent_city {
            if c.name != prov_region.name {
                address_prefix.push_str(&c.name);
            }
        }

        let name = r.name.as_str();
        let district = county && name.ends_with('区') && !name.ends_with("林区");
        let mut weight = if leaf_city {
            if matches!(num, 441900 | 442000) {
                12.0
            } else {
                3.0
            }
        } else if district {
            3.0
        } else if name.ends_with("自治县") {
            0.6
        } else if name.ends_with('县') {
            1.0
        } else if name.ends_with('市') {
            1.6
        } else if name.ends_with('旗') {
            0.5
        } else {
            0.8
        };
        if TIER1.contains(&city_num) {
            weight *= 5.0;
        } else if TIER2.contains(&city_num) {
            weight *= 3.0;
        } else if city_num % 10_000 == 100 {
            weight *= 1.8;
        }
        // Central districts (seat within 15 km of the city seat) are busiest.
        if district {
            if let Some((clat, clng)) = parent_city.and_then(coords) {
                if haversine_km(lat, lng, clat, clng) < 15.0 {
                    weight *= 1.5;
                }
            }
        }
        weight *= match province {
            54 => 0.4,
            63 => 0.6,
            65 => 0.7,
            15 | 62 => 0.8,
            _ => 1.0,
        };

        let urban = leaf_city || district;
        let sigma_km = if leaf_city {
            (3.5, 5.5)
        } else if district {
            (1.5, 3.0)
        } else {
            (2.0, 4.0)
        };
        let area_code = AREA_CODES
            .iter()
            .find(|(c, _)| *c == city_num)
            .map(|(_, a)| *a);
        let local_streets = LOCAL_STREETS
            .iter()
            .find(|(c, n, _)| *c == num && *n == name)
            .map(|(_, _, s)| *s)
            .unwrap_or(&[]);

        leaves.push(Leaf {
            code: r.code,
            name,
            address_prefix,
            city_key: city_region.map(|c| c.code).unwrap_or(r.code),
            lat,
            lng,
            weight,
            urban,
            north: NORTH.contains(&province),
            sigma_km,
            area_code,
            local_streets,
        });
    }
    leaves
}

/// Great-circle distance in km.
fn haversine_km(lat1: f64, lng1: f64, lat2: f64, lng2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lng2 - lng1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6371.0 * a.sqrt().min(1.0).asin()
}

// ---------------------------------------------------------------------------------------------
// Word lists
// ---------------------------------------------------------------------------------------------

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

fn generate_from(table: &Table, n: usize, seed: u64) -> Vec<GeneratedStation> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn seat(code: &str) -> (f64, f64) {
        let r = RegionCode::parse(code).unwrap().region();
        (r.lat.unwrap(), r.lng.unwrap())
    }

    fn minutes(s: &str) -> u32 {
        let b = s.as_bytes();
        assert_eq!(b.len(), 5, "{s}");
        assert_eq!(b[2], b':', "{s}");
        assert!(
            b.iter()
                .enumerate()
                .all(|(i, c)| i == 2 || c.is_ascii_digit()),
            "{s}"
        );
        let h: u32 = s[..2].parse().unwrap();
        let m: u32 = s[3..].parse().unwrap();
        assert!(m < 60, "{s}");
        assert!(h < 24 || (h == 24 && m == 0), "{s}");
        h * 60 + m
    }

    fn check_spans(spans: &Value) {
        let spans = spans.as_array().unwrap();
        assert!(spans.len() <= 6);
        let mut ranges: Vec<(u32, u32)> = spans
            .iter()
            .map(|s| {
                let open = minutes(s["open"].as_str().unwrap());
                let close = minutes(s["close"].as_str().unwrap());
                assert!(open < 24 * 60);
                // Past midnight: within this day it runs to 24:00.
                (open, if close <= open { 24 * 60 } else { close })
            })
            .collect();
        ranges.sort_unstable();
        for w in ranges.windows(2) {
            assert!(w[0].1 <= w[1].0, "overlapping spans {spans:?}");
        }
    }

    fn is_24h(s: &GeneratedStation) -> bool {
        WEEKDAYS
            .iter()
            .all(|d| s.hours["weekly"][d] == json!([{ "open": "00:00", "close": "24:00" }]))
    }

    #[test]
    fn the_same_seed_gives_the_same_stations() {
        let a = generate(2_000, 42);
        assert_eq!(a, generate(2_000, 42));
        assert_ne!(a, generate(2_000, 43));
        assert_eq!(a.len(), 2_000);
        assert_eq!(
            generate_around("440300", 200, 3),
            generate_around("440300", 200, 3)
        );
    }

    #[test]
    fn distributions_are_realistic() {
        let all = generate(20_000, 1);
        let share = |f: &dyn Fn(&GeneratedStation) -> bool| {
            all.iter().filter(|s| f(s)).count() as f64 / all.len() as f64
        };
        let h24 = share(&is_24h);
        assert!((h24 - 0.06).abs() <= 0.015, "24 h share {h24}");
        let movable = share(&|s| s.kind == "movable");
        assert!((movable - 0.10).abs() <= 0.02, "movable share {movable}");
        let fixed = share(&|s| s.kind == "fixed");
        assert!((fixed - 0.55).abs() <= 0.03, "fixed share {fixed}");
        let ebike = share(&|s| s.amenities.contains(&"ebike_charging"));
        assert!((0.3..0.5).contains(&ebike), "ebike_charging share {ebike}");
        let water = share(&|s| s.amenities.contains(&"drinking_water"));
        assert!(water > 0.9);
        let exceptions = share(&|s| !s.hours["exceptions"].as_array().unwrap().is_empty());
        assert!(
            (0.03..0.07).contains(&exceptions),
            "exceptions share {exceptions}"
        );
        // Big cities dominate: 北上广深成 hold far more than their share of districts.
        let big = share(&|s| {
            ["1101", "3101", "4401", "4403", "5101"]
                .iter()
                .any(|p| s.region_code.starts_with(p))
        });
        assert!(big > 0.12, "big-city share {big}");
        let kinds = ["fixed", "movable", "workers_home", "partner_shop"];
        assert!(all.iter().all(|s| kinds.contains(&s.kind)));
    }

    #[test]
    fn stations_lie_near_their_region_seat() {
        for s in generate(20_000, 5) {
            assert_eq!(s.region_code.len(), 6);
            let (lat, lng) = seat(&s.region_code);
            let d = haversine_km(lat, lng, s.lat, s.lng);
            assert!(d <= 30.0, "{} is {d:.1} km from {}", s.name, s.region_code);
        }
    }

    #[test]
    fn fields_are_well_formed() {
        let mut names_per_city: HashMap<RegionCode, HashSet<String>> = HashMap::new();
        for s in generate(20_000, 9) {
            for a in &s.amenities {
                assert!(AMENITIES.contains(a), "{a}");
            }
            let weekly = s.hours["weekly"].as_object().unwrap();
            assert_eq!(weekly.len(), 7);
            for d in WEEKDAYS {
                check_spans(&weekly[d]);
            }
            for e in s.hours["exceptions"].as_array().unwrap() {
                let date = e["date"].as_str().unwrap();
                assert!(
                    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok(),
                    "{date}"
                );
                assert!(date.starts_with("2026-"));
                check_spans(&e["spans"]);
            }
            assert!((4..=60).contains(&s.capacity), "{}", s.capacity);
            let p = &s.contact_phone;
            let mobile =
                p.len() == 11 && p.starts_with('1') && p.bytes().all(|b| b.is_ascii_digit());
            let landline = p.split_once('-').is_some_and(|(a, n)| {
                a.starts_with('0')
                    && (3..=4).contains(&a.len())
                    && n.len() == 8
                    && (a.bytes().chain(n.bytes())).all(|b| b.is_ascii_digit())
            });
            assert!(mobile || landline, "{p}");
            assert!(s.address.contains('号'), "{}", s.address);
            let code = RegionCode::parse(&s.region_code).unwrap();
            let city = code
                .region()
                .parent
                .filter(|p| p.region().level == RegionLevel::City);
            let key = city.unwrap_or(code);
            assert!(
                names_per_city
                    .entry(key)
                    .or_default()
                    .insert(s.name.clone()),
                "{}",
                s.name
            );
        }
    }

    #[test]
    fn around_chengdu_stays_in_chengdu() {
        let stations = generate_around("510100", 300, 7);
        assert_eq!(stations.len(), 300);
        for s in &stations {
            assert!(s.region_code.starts_with("5101"), "{}", s.region_code);
            assert!((s.lat - 30.57).abs() <= 0.8, "{}", s.lat);
            assert!((s.lng - 104.07).abs() <= 0.8, "{}", s.lng);
            assert!(s.address.starts_with("四川省成都市"), "{}", s.address);
        }
        let shenzhen = generate_around("440300", 100, 7);
        assert!(shenzhen.iter().all(|s| s.region_code.starts_with("4403")));
        assert!(shenzhen
            .iter()
            .all(|s| s.address.starts_with("广东省深圳市")));
        assert!(generate_around("999999", 10, 1).is_empty());
        assert!(generate_around("51010", 10, 1).is_empty());
        // A city without districts is its own leaf.
        let dongguan = generate_around("441900", 20, 1);
        assert!(dongguan.iter().all(|s| s.region_code == "441900"));
        assert_eq!(dongguan.len(), 20);
    }

    #[test]
    fn only_mainland_regions_with_coordinates_are_used() {
        let table = &*NATIONAL;
        assert!(table.leaves.len() > 2_500, "{}", table.leaves.len());
        for l in &table.leaves {
            let r = l.code.region();
            assert!(r.lat.is_some() && r.lng.is_some());
            let p = code_num(l.code) / 10_000;
            assert!(!matches!(p, 71 | 81 | 82));
            assert!(l.weight > 0.0);
        }
        // Municipalities do not repeat their name in addresses.
        let s = generate_around("110105", 1, 1);
        assert!(s[0].address.starts_with("北京市朝阳区"), "{}", s[0].address);
    }
}
