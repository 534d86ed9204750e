"""Editing a nengo network in place: removing objects, following replaced connections."""

__all__ = ["remove_objects", "update_layer_connections"]


def remove_objects(net, objs):
    objs = set(objs)
    for sub in [net, *net.all_networks]:
        for container in (sub.connections, sub.nodes, sub.ensembles):
            for obj in [o for o in container if o in objs]:
                container.remove(obj)


def update_layer_connections(net, replaced):
    """Point ``net.layers[...].connection`` at the connections that replaced theirs."""
    for built in net.layers.values():
        if getattr(built, "connection", None) in replaced:
            built.connection = replaced[built.connection]
