"""Push endpoints of the person: app devices, the mini-program login and WeChat binding,
subscription-message consents, and push preferences (switches and quiet hours)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api import auth
from api.responses import JsonResponse, read_json
from push import preferences, service
from push.schemas import (
    parse_consents,
    parse_device,
    parse_preferences,
    parse_unregister,
    parse_wechat_code,
)


async def register_device(request: Request) -> Response:
    """Register or refresh this app installation's FCM token."""
    caller = await auth.person(request)
    view, created = await service.register_device(caller.id, parse_device(await read_json(request)))
    return JsonResponse(view, status_code=201 if created else 200)


async def list_devices(request: Request) -> Response:
    """The caller's devices (app installations and mini-program)."""
    caller = await auth.person(request)
    return JsonResponse({"items": await service.list_devices(caller.id)})


async def delete_device(request: Request) -> Response:
    """Unregister a device (logout): it receives nothing more."""
    caller = await auth.person(request)
    await service.unregister_device(caller.id, int(request.path_params["device_id"]))
    return Response(status_code=204)


async def unregister_token(request: Request) -> Response:
    """Unregister by FCM token (the app knows its token, not always the device id)."""
    caller = await auth.person(request)
    await service.unregister_token(caller.id, parse_unregister(await read_json(request)).token)
    return Response(status_code=204)


async def wechat_login(request: Request) -> Response:
    """Mini-program login: a wx.login() code for the bound person's tokens."""
    code = parse_wechat_code(await read_json(request))
    return JsonResponse((await service.wechat_login(code)).as_dict())


async def bind_wechat(request: Request) -> Response:
    """Bind the mini-program user (a wx.login() code) to the logged-in person."""
    caller = await auth.person(request)
    return JsonResponse(await service.bind_wechat(caller.id,
                                                  parse_wechat_code(await read_json(request))))


async def unbind_wechat(request: Request) -> Response:
    """Unbind WeChat: no more mini-program login or subscription messages."""
    caller = await auth.person(request)
    await service.unbind_wechat(caller.id)
    return Response(status_code=204)


async def report_consents(request: Request) -> Response:
    """Report wx.requestSubscribeMessage results (accept / reject / ban per template)."""
    caller = await auth.person(request)
    return JsonResponse(await service.report_consents(
        caller.id, parse_consents(await read_json(request))))


async def get_consents(request: Request) -> Response:
    """Subscription-message credits left per template."""
    caller = await auth.person(request)
    return JsonResponse(await service.consents(caller.id))


async def get_preferences(request: Request) -> Response:
    """Push switches per kind × channel, and quiet hours."""
    caller = await auth.person(request)
    return JsonResponse(await preferences.get_preferences(caller.id))


async def put_preferences(request: Request) -> Response:
    """Change push switches and/or quiet hours (null turns quiet hours off)."""
    caller = await auth.person(request)
    data = parse_preferences(await read_json(request))
    return JsonResponse(await preferences.put_preferences(caller.id, data))


routes = [
    Route("/v1/me/devices", register_device, methods=["POST"]),
    Route("/v1/me/devices", list_devices, methods=["GET"]),
    Route("/v1/me/devices/{device_id:int}", delete_device, methods=["DELETE"]),
    Route("/v1/me/devices/unregister", unregister_token, methods=["POST"]),
    Route("/v1/auth/wechat", wechat_login, methods=["POST"]),
    Route("/v1/me/wechat", bind_wechat, methods=["POST"]),
    Route("/v1/me/wechat", unbind_wechat, methods=["DELETE"]),
    Route("/v1/me/wechat/consents", report_consents, methods=["POST"]),
    Route("/v1/me/wechat/consents", get_consents, methods=["GET"]),
    Route("/v1/me/push-preferences", get_preferences, methods=["GET"]),
    Route("/v1/me/push-preferences", put_preferences, methods=["PUT"]),
]
