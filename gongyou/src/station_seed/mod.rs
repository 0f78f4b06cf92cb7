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

mod station;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::sync::LazyLock;

use gongyou_domain::region::{Region, RegionCode, RegionLevel};
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::Value;

use station::generate_from;

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
