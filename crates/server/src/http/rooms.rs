//! `/api/v1/rooms`: the rooms on this node and their participants (SPEC §5).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::Serialize;

use super::App;
use super::auth::Grant;
use super::error::{ApiError, Code, ErrorBody};
use crate::rooms::Room;

/// The answer of `GET /api/v1/rooms`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RoomList {
    pub rooms: Vec<Room>,
}

/// `GET /api/v1/rooms`.
#[utoipa::path(get, path = "/api/v1/rooms", tag = "rooms", security(("bearer" = [])), responses((status = 200, body = RoomList), (status = 401, description = "unauthenticated", body = ErrorBody), (status = 403, description = "permission_denied", body = ErrorBody)))]
pub async fn list(State(app): State<App>, headers: HeaderMap) -> Result<Json<RoomList>, ApiError> {
    app.keys.authorize(&headers, Grant::SipAdmin)?;
    Ok(Json(RoomList {
        rooms: app.rooms.list(),
    }))
}

/// `GET /api/v1/rooms/{name}`.
#[utoipa::path(get, path = "/api/v1/rooms/{name}", tag = "rooms", params(("name" = String, Path, description = "room name")), security(("bearer" = [])), responses((status = 200, body = Room), (status = 404, description = "not_found", body = ErrorBody), (status = 401, description = "unauthenticated", body = ErrorBody), (status = 403, description = "permission_denied", body = ErrorBody)))]
pub async fn get(
    State(app): State<App>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Room>, ApiError> {
    app.keys.authorize(&headers, Grant::SipAdmin)?;
    app.rooms.get(&name).map(Json).ok_or_else(|| {
        ApiError::new(
            Code::NotFound,
            format!("no room named {name:?} is open on this node; GET /api/v1/rooms lists the open rooms (a room closes when its last participant leaves)"),
        )
    })
}
