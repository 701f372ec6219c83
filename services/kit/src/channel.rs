//! The channels a member reaches the group through. Member identities,
//! orders and events all speak this one list.

#[derive(
    async_graphql::Enum,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    sea_orm::EnumIter,
    sea_orm::DeriveActiveEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "Text",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
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
