//! The channels a member reaches the group through. Member identities,
//! orders and events all speak this one list.

#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    App,
    WechatMiniProgram,
    WechatOfficialAccount,
    Ecommerce,
    StorePos,
    Partner,
}

impl Channel {
    pub const ALL: [Channel; 6] = [
        Channel::App,
        Channel::WechatMiniProgram,
        Channel::WechatOfficialAccount,
        Channel::Ecommerce,
        Channel::StorePos,
        Channel::Partner,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::App => "APP",
            Channel::WechatMiniProgram => "WECHAT_MINI_PROGRAM",
            Channel::WechatOfficialAccount => "WECHAT_OFFICIAL_ACCOUNT",
            Channel::Ecommerce => "ECOMMERCE",
            Channel::StorePos => "STORE_POS",
            Channel::Partner => "PARTNER",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_round_trip() {
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.as_str()), Some(c));
        }
        assert_eq!(Channel::parse("FAX"), None);
    }
}
