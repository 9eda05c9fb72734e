"""The web app's routes, one small router per concern; app.create_app registers them in ROUTERS' order."""

from routes.images import router as images
from routes.library import router as library
from routes.pictures import router as pictures
from routes.search import router as search
from routes.suggest import router as suggest
from routes.viewer import router as viewer

ROUTERS = (search, viewer, pictures, suggest, library, images)
