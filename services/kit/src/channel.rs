//! The channels a member reaches the group through. Member identities,
//! orders and events all speak this one list.

crate::stored_enum! {
    #[derive(async_graphql::Enum, Hash, PartialOrd, Ord)]
    pub enum Channel {
        App,
        WechatMiniProgram,
        WechatOfficialAccount,
        Ecommerce,
        StorePos,
        Partner,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_stored_names_stay() {
        crate::testing::stored_names_hold(&[
            (Channel::App, "APP"),
            (Channel::WechatMiniProgram, "WECHAT_MINI_PROGRAM"),
            (Channel::WechatOfficialAccount, "WECHAT_OFFICIAL_ACCOUNT"),
            (Channel::Ecommerce, "ECOMMERCE"),
            (Channel::StorePos, "STORE_POS"),
            (Channel::Partner, "PARTNER"),
        ]);
    }
}
