"""Post-processing of the OpenAPI schema: the error answers every endpoint really gives."""

ERROR = {
    "type": "object",
    "description": "Field errors (field name → list of zh-TW messages), or `detail`.",
    "additionalProperties": True,
}


def add_error_responses(result, generator, request, public):
    """Document 400 (bad input), 401 (no or bad token), 403 (role) and 404 (scope)."""
    error = {"description": "", "content": {"application/json": {"schema": ERROR}}}
    texts = {
        "400": "輸入資料有誤（欄位錯誤）。",
        "401": "未登入或 API 金鑰無效。",
        "403": "角色無此權限，或須先變更通行碼。",
        "404": "查無資料，或不在您的權限範圍內。",
        "409": "資料仍被其他資料使用。",
    }
    for path in result.get("paths", {}).values():
        for method, operation in path.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for code, text in texts.items():
                if code not in responses:
                    responses[code] = {**error, "description": text}
    for component in result.get("components", {}).get("schemas", {}).values():
        for prop in component.get("properties", {}).values():
            fmt = prop.get("format")
            if prop.get("type") == "string" and fmt in {"email", "uri"}:
                # Optional e-mail and URL fields of the registers are "" when not filled in.
                prop.pop("format")
                prop["anyOf"] = [{"format": fmt}, {"maxLength": 0}]
    return result
