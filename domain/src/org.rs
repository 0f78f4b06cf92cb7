//! The union hierarchy: org types and materialized paths ("this org and everything under
//! it" is a prefix match on the path).

use serde::{Deserialize, Serialize};

use crate::text::TextRule;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgType {
    /// 总工会: national, provincial, city or district federation.
    Federation,
    /// 基层工会: where members belong.
    GrassrootsUnion,
    /// 行业工会联合会, e.g. 新就业形态行业工联会.
    SectorFederation,
}

impl OrgType {
    pub fn as_str(self) -> &'static str {
        match self {
            OrgType::Federation => "federation",
            OrgType::GrassrootsUnion => "grassroots_union",
            OrgType::SectorFederation => "sector_federation",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "federation" => Some(OrgType::Federation),
            "grassroots_union" => Some(OrgType::GrassrootsUnion),
            "sector_federation" => Some(OrgType::SectorFederation),
            _ => None,
        }
    }
}

/// `/<root id>/<child id>/…/<own id>/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrgPath(String);

impl OrgPath {
    pub fn root(id: &str) -> Self {
        Self(format!("/{id}/"))
    }

    pub fn child(&self, id: &str) -> Self {
        Self(format!("{}{id}/", self.0))
    }

    /// A path as stored.
    pub fn from_stored(path: String) -> Self {
        Self(path)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `other` is this org or lies beneath it.
    pub fn contains(&self, other: &OrgPath) -> bool {
        other.0.starts_with(&self.0)
    }

    /// The ids from the root down to this org.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|s| !s.is_empty())
    }

    pub fn depth(&self) -> usize {
        self.ids().count()
    }
}

/// A name of an org: 2–64 characters after trimming.
pub fn parse_org_name(input: &str) -> Option<String> {
    ORG_NAME.check(input)
}

/// An org's name: one line of 2–64 characters, trimmed.
pub const ORG_NAME: TextRule = TextRule::line(2, 64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_contain_their_subtree_only() {
        let national = OrgPath::root("a");
        let sichuan = national.child("b");
        let chengdu = sichuan.child("c");
        let guangdong = national.child("d");
        assert!(national.contains(&chengdu));
        assert!(sichuan.contains(&chengdu));
        assert!(chengdu.contains(&chengdu));
        assert!(!chengdu.contains(&sichuan));
        assert!(!guangdong.contains(&chengdu));
        // A sibling whose id starts like ours is not inside us.
        assert!(!OrgPath::root("ab").contains(&OrgPath::root("a")));
        assert!(!OrgPath::root("a").contains(&OrgPath::root("ab")));
        assert_eq!(chengdu.ids().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(chengdu.depth(), 3);
    }

    #[test]
    fn org_names_and_types() {
        assert_eq!(
            parse_org_name("  成都市总工会 ").as_deref(),
            Some("成都市总工会")
        );
        assert_eq!(parse_org_name("x"), None);
        assert_eq!(parse_org_name("a\nb"), None);
        assert_eq!(
            OrgType::parse("sector_federation"),
            Some(OrgType::SectorFederation)
        );
        assert_eq!(OrgType::parse("club"), None);
    }
}
